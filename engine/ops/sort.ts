// Placeholder: filled in by the op work of issue 3.
export {};
