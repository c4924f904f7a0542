// Runs the CLI's main() in-process with console output collected into `log` (tests read what a
// user would see, and the test output stays quiet).
import { main } from '../../glass/cli.ts';

export function cliCapture(log: string[]): (argv: string[]) => Promise<number> {
  return async (argv) => {
    const [out, err] = [console.log, console.error];
    console.log = console.error = (...a: unknown[]) => log.push(a.join(' '));
    try {
      return await main(argv);
    } finally {
      [console.log, console.error] = [out, err];
    }
  };
}
