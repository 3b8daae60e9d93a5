/**
 * Duplicate-key detection for JSON text (the event boundary).
 *
 * Why: JSON leaves duplicate keys undefined. `JSON.parse` keeps the last value, Argo Events'
 * sensor filters (gjson) read the first one. A signed webhook body with `"after"` twice would make
 * `aphex event parse` and the Sensor disagree about which commit deploys, so such bodies are
 * rejected outright. No maintained npm parser reports duplicates with the key path while keeping
 * `JSON.parse` semantics, so this is a small scanner over text that `JSON.parse` has already
 * accepted (it relies on that validity: it only tracks strings, brackets, commas and colons).
 * Keys are compared after unescaping, so `"after"` and `"\u0061fter"` are the same key.
 * @module
 */

interface Frame {
  kind: "object" | "array";
  path: string;
  keys: Set<string>;
  key: string;
  expectKey: boolean;
  index: number;
}

function childPath(frame: Frame | undefined): string {
  if (!frame) return "";
  if (frame.kind === "array") return `${frame.path}[${frame.index}]`;
  return frame.path === "" ? formatKey(frame.key) : `${frame.path}.${formatKey(frame.key)}`;
}

function formatKey(key: string): string {
  return /^[A-Za-z_$][\w$-]*$/.test(key) ? key : JSON.stringify(key);
}

/**
 * The path of the first duplicated key (e.g. `after`, `pull_request.head.sha`, `commits[2].id`)
 * in a JSON text already accepted by `JSON.parse`, or undefined when every object's keys are
 * unique.
 */
export function findDuplicateKey(text: string): string | undefined {
  const stack: Frame[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      let j = i + 1;
      while (j < text.length && text.charCodeAt(j) !== 0x22) {
        j += text.charCodeAt(j) === 0x5c ? 2 : 1;
      }
      const top = stack[stack.length - 1];
      if (top?.kind === "object" && top.expectKey) {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        top.key = key;
        if (top.keys.has(key)) return childPath(top);
        top.keys.add(key);
        top.expectKey = false;
      }
      i = j;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      stack.push({
        kind: c === 0x7b ? "object" : "array",
        path: childPath(stack[stack.length - 1]),
        keys: new Set(),
        key: "",
        expectKey: c === 0x7b,
        index: 0,
      });
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
    } else if (c === 0x2c /* , */) {
      const top = stack[stack.length - 1];
      if (top?.kind === "object") top.expectKey = true;
      else if (top) top.index++;
    }
  }
  return undefined;
}
