// A reader for the TAP that `node --test --test-reporter=tap` prints, enough
// to replay a guest's test results as host subtests: test points ("ok N -
// name # SKIP reason" / "not ok N - name"), their YAML blocks (kept as text:
// the error, location and stack a failure carries), subtests (indented four
// spaces per level, printed before their parent's test point) and
// diagnostics ("# text" lines after a test point, at its level). The final
// summary ("# tests 22" ... after the top-level plan) is returned apart.

export interface TapTest {
  name: string;
  ok: boolean;
  /** SKIP reason, when skipped. */
  skip?: string;
  /** TODO reason, when marked todo. */
  todo?: string;
  /** The YAML block, de-indented (error, location, stack...). */
  yaml: string;
  diagnostics: string[];
  subtests: TapTest[];
}

export interface TapResult {
  tests: TapTest[];
  /** Top-level comments after the plan: "tests 22", "pass 20"... */
  summary: Record<string, number>;
  /** "Bail out!" reason, if any. */
  bailOut?: string;
}

const POINT_RE = /^(not ok|ok)\s+\d+(?:\s+-\s+(.*?))?\s*$/;

function unescapeName(s: string): string {
  return s.replace(/\\([\\#])/g, '$1');
}

/** Splits "name # SKIP reason" at the first unescaped "#" that starts a directive. */
function directive(rest: string): { name: string; skip?: string; todo?: string } {
  const m = /^(.*?)(?<!\\)\s#\s*(SKIP|TODO)\b\s*(.*)$/i.exec(rest);
  if (!m) return { name: unescapeName(rest) };
  const out: { name: string; skip?: string; todo?: string } = { name: unescapeName(m[1]!.trimEnd()) };
  if (m[2]!.toUpperCase() === 'SKIP') out.skip = m[3]!.trim();
  else out.todo = m[3]!.trim();
  return out;
}

export function parseTap(text: string): TapResult {
  const lines = text.replace(/\r/g, '').split('\n');
  const pending: TapTest[][] = [[]];
  const last: (TapTest | undefined)[] = [];
  const planSeen: boolean[] = [];
  const summary: Record<string, number> = {};
  let bailOut: string | undefined;
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    const indent = raw.length - raw.trimStart().length;
    const line = raw.trim();
    if (line === '') continue;
    const level = Math.floor(indent / 4);
    const point = POINT_RE.exec(line);
    if (point) {
      const d = directive(point[2] ?? '');
      const test: TapTest = { name: d.name, ok: point[1] === 'ok', yaml: '', diagnostics: [], subtests: pending[level + 1] ?? [] };
      if (d.skip !== undefined) test.skip = d.skip;
      if (d.todo !== undefined) test.todo = d.todo;
      pending[level + 1] = [];
      planSeen[level + 1] = false;
      pending[level] ??= [];
      pending[level].push(test);
      last[level] = test;
      last.length = level + 1;
      // Its YAML block, if the next line opens one.
      if (lines[i + 1]?.trim() === '---') {
        const yamlIndent = lines[i + 1]!.length - lines[i + 1]!.trimStart().length;
        const body: string[] = [];
        let j = i + 2;
        for (; j < lines.length; j++) {
          const l = lines[j]!;
          if (l.trim() === '...' && l.length - l.trimStart().length === yamlIndent) break;
          body.push(l.slice(Math.min(yamlIndent, l.length - l.trimStart().length)));
        }
        test.yaml = body.join('\n');
        i = j;
      }
      continue;
    }
    if (/^1\.\.\d+/.test(line)) {
      planSeen[level] = true;
      continue;
    }
    if (line.startsWith('Bail out!')) {
      bailOut = line.slice('Bail out!'.length).trim();
      continue;
    }
    if (line.startsWith('#')) {
      const body = line.slice(1).trim();
      if (body.startsWith('Subtest:')) continue;
      if (level === 0 && planSeen[0]) {
        const m = /^(\w+)\s+(\d+(?:\.\d+)?)$/.exec(body);
        if (m) summary[m[1]!] = Number(m[2]);
        continue;
      }
      const t = last[level];
      if (t !== undefined) t.diagnostics.push(body);
    }
    // "TAP version 13" and anything else: ignored.
  }
  const result: TapResult = { tests: pending[0] ?? [], summary };
  if (bailOut !== undefined) result.bailOut = bailOut;
  return result;
}
