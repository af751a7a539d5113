/** `-o` formats, as kubectl names them; without `-o` a table that fits 160 columns. Kept apart so flag parsing loads no renderer. */
export const OUTPUT_FORMATS = ['wide', 'json', 'yaml'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];
