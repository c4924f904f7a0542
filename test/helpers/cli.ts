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

/** Training flags that make a run take seconds: random MobileNet, 64 px, tiny heads, one short epoch. */
export const TINY_TRAIN: readonly string[] = [
  '-b',
  'mobilenet_v1',
  '--random_backbone',
  '-le',
  'conv_pw_3',
  '-le',
  'conv_pw_5',
  '--resize',
  '64',
  '--imagesize',
  '64',
  '--pretrain_embed_dimension',
  '32',
  '--target_embed_dimension',
  '32',
  '--dsc_hidden',
  '16',
  '--step',
  '3',
  '--limit',
  '4',
  '--batch_size',
  '4',
  '--workers',
  '0',
  '--svd',
  '0',
  '--meta_epochs',
  '1',
  '--visuals',
  '0',
];
