/**
 * @module Grafana Alloy's configuration syntax read into blocks and attributes: enough to check
 * which components exist, what references what, and the literal values of attributes.
 * (`name "label" { attr = expr  block { ... } }`, `//` and `/* *\/` comments, strings with Go
 * escapes, backtick raw strings, lists and objects in expressions.)
 */

export interface Token {
  kind: "ident" | "string" | "number" | "punct" | "newline";
  value: string;
  line: number;
}

export interface Attribute {
  name: string;
  tokens: Token[];
  line: number;
}

export interface Block {
  /** `discovery.docker`, `stage.json`, `rule`, ... */
  name: string;
  label?: string;
  attributes: Attribute[];
  blocks: Block[];
  line: number;
}

export function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let line = 1;
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === "\n") {
      tokens.push({ kind: "newline", value: "\n", line });
      line++;
      i++;
    } else if (/\s/.test(c)) i++;
    else if (text.startsWith("//", i)) while (i < text.length && text[i] !== "\n") i++;
    else if (text.startsWith("/*", i)) {
      const end = text.indexOf("*/", i + 2);
      if (end < 0) throw new Error(`line ${line}: unterminated /* comment`);
      line += text.slice(i, end).split("\n").length - 1;
      i = end + 2;
    } else if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') {
        if (text[j] === "\\") j++;
        if (text[j] === "\n") throw new Error(`line ${line}: newline inside a string`);
        j++;
      }
      if (j >= text.length) throw new Error(`line ${line}: unterminated string`);
      let value: string;
      try {
        value = JSON.parse(text.slice(i, j + 1));
      } catch {
        throw new Error(`line ${line}: cannot read the string ${text.slice(i, j + 1)}`);
      }
      tokens.push({ kind: "string", value, line });
      i = j + 1;
    } else if (c === "`") {
      const end = text.indexOf("`", i + 1);
      if (end < 0) throw new Error(`line ${line}: unterminated raw string`);
      const value = text.slice(i + 1, end);
      tokens.push({ kind: "string", value, line });
      line += value.split("\n").length - 1;
      i = end + 1;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*/y;
      m.lastIndex = i;
      const word = m.exec(text)![0];
      tokens.push({ kind: "ident", value: word, line });
      i += word.length;
    } else if (/[0-9]/.test(c)) {
      const m = /[0-9][0-9._eE]*/y;
      m.lastIndex = i;
      const num = m.exec(text)![0];
      tokens.push({ kind: "number", value: num, line });
      i += num.length;
    } else if ("{}[]()=,:.".includes(c) || "+-*/%!<>&|^".includes(c)) {
      const two = text.slice(i, i + 2);
      const op = ["==", "!=", "<=", ">=", "&&", "||"].includes(two) ? two : c;
      tokens.push({ kind: "punct", value: op, line });
      i += op.length;
    } else throw new Error(`line ${line}: unexpected character '${c}'`);
  }
  return tokens;
}

const OPEN: Record<string, string> = { "{": "}", "[": "]", "(": ")" };

/** The top-level blocks of an Alloy file. */
export function parseAlloy(text: string): Block[] {
  const tokens = tokenize(text);
  let i = 0;
  const skipNewlines = () => {
    while (tokens[i]?.kind === "newline") i++;
  };

  function body(closing: boolean): { attributes: Attribute[]; blocks: Block[] } {
    const attributes: Attribute[] = [];
    const blocks: Block[] = [];
    for (;;) {
      skipNewlines();
      const t = tokens[i];
      if (!t) {
        if (closing) throw new Error("unexpected end of file: a block is not closed");
        return { attributes, blocks };
      }
      if (t.kind === "punct" && t.value === "}") {
        if (!closing) throw new Error(`line ${t.line}: '}' without a block`);
        i++;
        return { attributes, blocks };
      }
      if (t.kind !== "ident") throw new Error(`line ${t.line}: expected an attribute or a block, got '${t.value}'`);
      const next = tokens[i + 1];
      if (next?.kind === "punct" && next.value === "=") {
        i += 2;
        const expr: Token[] = [];
        const stack: string[] = [];
        while (i < tokens.length) {
          const e = tokens[i]!;
          if (stack.length === 0 && (e.kind === "newline" || (e.kind === "punct" && e.value === "}"))) break;
          if (e.kind === "punct" && OPEN[e.value]) stack.push(OPEN[e.value]!);
          else if (e.kind === "punct" && stack.at(-1) === e.value) stack.pop();
          else if (e.kind === "punct" && ["}", "]", ")"].includes(e.value)) throw new Error(`line ${e.line}: unbalanced '${e.value}'`);
          if (e.kind !== "newline") expr.push(e);
          i++;
        }
        if (stack.length > 0) throw new Error(`line ${t.line}: attribute ${t.value} is not closed`);
        if (expr.length === 0) throw new Error(`line ${t.line}: attribute ${t.value} has no value`);
        attributes.push({ name: t.value, tokens: expr, line: t.line });
        continue;
      }
      let label: string | undefined;
      let j = i + 1;
      if (tokens[j]?.kind === "string") label = tokens[j++]!.value;
      if (!(tokens[j]?.kind === "punct" && tokens[j]!.value === "{")) throw new Error(`line ${t.line}: expected '{' after ${t.value}${label ? ` "${label}"` : ""}`);
      i = j + 1;
      const inner = body(true);
      blocks.push({ name: t.value, label, ...inner, line: t.line });
    }
  }
  return body(false).blocks;
}

export function attribute(block: Block, name: string): Attribute | undefined {
  return block.attributes.find((a) => a.name === name);
}

/** An attribute that is one string literal. */
export function stringValue(block: Block, name: string): string | undefined {
  const a = attribute(block, name);
  return a && a.tokens.length === 1 && a.tokens[0]!.kind === "string" ? a.tokens[0]!.value : undefined;
}

/** Every string literal of an attribute (a list of strings, say). */
export function stringsOf(a: Attribute | undefined): string[] {
  return (a?.tokens ?? []).filter((t) => t.kind === "string").map((t) => t.value);
}

/** The keys of an object attribute (`{ level = "", role = "" }`). */
export function objectKeys(a: Attribute | undefined): string[] {
  if (!a) return [];
  const keys: string[] = [];
  let depth = 0;
  a.tokens.forEach((t, k) => {
    if (t.kind === "punct" && OPEN[t.value]) depth++;
    else if (t.kind === "punct" && ["}", "]", ")"].includes(t.value)) depth--;
    else if (depth === 1 && (t.kind === "ident" || t.kind === "string") && a.tokens[k + 1]?.value === "=") keys.push(t.value);
  });
  return keys;
}

/** Dotted references in an attribute (`discovery.docker.containers.targets`), function calls left out. */
export function referencesOf(a: Attribute): string[] {
  return a.tokens.filter((t, k) => t.kind === "ident" && t.value.includes(".") && a.tokens[k + 1]?.value !== "(").map((t) => t.value);
}

/** Every block below `block`, depth first. */
export function descendants(block: Block): Block[] {
  return block.blocks.flatMap((b) => [b, ...descendants(b)]);
}
