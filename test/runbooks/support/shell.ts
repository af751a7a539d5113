/**
 * Just enough of the POSIX shell to read the commands the docs tell people to paste: words with quotes,
 * `$(…)` substitutions, `${VAR…}` expansions, trailing comments and `\` continuations. Pipelines,
 * redirections and control flow are refused, so a doc cannot slip past the checks with them.
 */

export interface Command {
  /** The line as written in the doc, continuations joined. */
  readonly text: string;
  /** `NAME=value` when the line is an assignment. */
  readonly assigns?: { readonly name: string; readonly value: string };
  /** The words, quotes removed; substitutions and expansions kept as written. */
  readonly words: readonly string[];
  /** Every variable the line expands, in order. */
  readonly uses: readonly string[];
  /** The commands inside `$(…)`. */
  readonly substitutions: readonly Command[];
}

/** The bodies of the fenced code blocks of one language. */
export function fencedBlocks(markdown: string, language: string): string[] {
  const blocks: string[] = [];
  const fence = new RegExp(`^([ \\t]*)\`\`\`${language}\\n([\\s\\S]*?)^\\1\`\`\``, 'gm');
  for (const match of markdown.matchAll(fence)) {
    const indent = match[1] ?? '';
    blocks.push((match[2] ?? '').split('\n').map((line) => (line.startsWith(indent) ? line.slice(indent.length) : line)).join('\n'));
  }
  return blocks;
}

/** Every command of a shell block, one per logical line; comments and blank lines dropped. */
export function parseBlock(block: string): Command[] {
  const lines = block.replace(/\\\n\s*/g, ' ').split('\n');
  return lines.map((line) => stripComment(line).trim()).filter((line) => line !== '').map(parseCommand);
}

function stripComment(line: string): string {
  let quote: string | undefined;
  let depth = 0;
  for (let index = 0; index < line.length; index += 1) {
    const char = line[index];
    if (quote !== undefined) {
      if (char === quote) quote = undefined;
      continue;
    }
    if (char === "'" || char === '"') quote = char;
    else if (char === '(') depth += 1;
    else if (char === ')') depth -= 1;
    else if (char === '#' && depth === 0 && (index === 0 || /\s/.test(line[index - 1] ?? ''))) return line.slice(0, index);
  }
  return line;
}

export function parseCommand(text: string): Command {
  const words: string[] = [];
  const uses: string[] = [];
  const substitutions: Command[] = [];
  let current = '';
  let started = false;
  let index = 0;
  const expansion = (at: number): number => {
    // $NAME, ${NAME…} or $(…), starting at `$`; returns the index after it.
    const next = text[at + 1];
    if (next === '(') {
      let depth = 0;
      for (let end = at + 1; end < text.length; end += 1) {
        if (text[end] === '(') depth += 1;
        else if (text[end] === ')') {
          depth -= 1;
          if (depth === 0) {
            const inner = parseCommand(text.slice(at + 2, end));
            substitutions.push(inner);
            uses.push(...inner.uses);
            current += text.slice(at, end + 1);
            return end + 1;
          }
        }
      }
      throw new Error(`unbalanced $( in: ${text}`);
    }
    if (next === '{') {
      const end = text.indexOf('}', at);
      if (end < 0) throw new Error(`unbalanced \${ in: ${text}`);
      const name = /^[A-Za-z_]\w*/.exec(text.slice(at + 2, end))?.[0];
      if (name === undefined) throw new Error(`bad expansion in: ${text}`);
      uses.push(name);
      current += text.slice(at, end + 1);
      return end + 1;
    }
    const name = /^[A-Za-z_]\w*/.exec(text.slice(at + 1))?.[0];
    if (name === undefined) throw new Error(`a lone $ in: ${text}`);
    uses.push(name);
    current += `$${name}`;
    return at + 1 + name.length;
  };
  while (index < text.length) {
    const char = text[index] ?? '';
    if (/\s/.test(char)) {
      if (started) words.push(current);
      current = '';
      started = false;
      index += 1;
    } else if (char === "'") {
      const end = text.indexOf("'", index + 1);
      if (end < 0) throw new Error(`unbalanced ' in: ${text}`);
      current += text.slice(index + 1, end);
      started = true;
      index = end + 1;
    } else if (char === '"') {
      started = true;
      index += 1;
      while (index < text.length && text[index] !== '"') {
        if (text[index] === '$') index = expansion(index);
        else {
          current += text[index];
          index += 1;
        }
      }
      if (text[index] !== '"') throw new Error(`unbalanced " in: ${text}`);
      index += 1;
    } else if (char === '$') {
      started = true;
      index = expansion(index);
    } else if (/[|;&<>`]/.test(char)) {
      throw new Error(`pipelines, lists, redirections and backquotes are not pasteable-checked: ${text}`);
    } else {
      current += char;
      started = true;
      index += 1;
    }
  }
  if (started) words.push(current);
  const assignment = /^([A-Za-z_]\w*)=(.*)$/.exec(words[0] ?? '');
  const assigns = assignment !== null && words.length === 1 ? { name: assignment[1] ?? '', value: assignment[2] ?? '' } : undefined;
  return { text, words, uses, substitutions, ...(assigns === undefined ? {} : { assigns }) };
}

/** The value of `--flag value`, `--flag=value` or `-f value` among the words, if present. */
export function flagValue(words: readonly string[], ...names: string[]): string | undefined {
  for (let index = 0; index < words.length; index += 1) {
    const word = words[index] ?? '';
    for (const name of names) {
      if (word === name) return words[index + 1];
      if (word.startsWith(`${name}=`)) return word.slice(name.length + 1);
    }
  }
  return undefined;
}

/** Every `--flag` (long option) among the words, without a `=value` part. */
export function longFlags(words: readonly string[]): string[] {
  return words.filter((word) => word.startsWith('--') && word !== '--').map((word) => word.split('=')[0] ?? word);
}
