/**
 * Reading `meridian.yaml`: YAML syntax, schema and cross-references, with every problem reported
 * at once as `file:line:column path: reason`. A topology that fails here never starts anything.
 */
import { readFile } from 'node:fs/promises';
import { LineCounter, parseDocument, isNode } from 'yaml';
import type { Document } from 'yaml';
import { ErrorCode, MeridianError } from '../errors/mod.js';
import { TopologySchema } from './schema.js';
import type { Topology } from './schema.js';
import { crossCheck } from './validate.js';

export interface TopologyProblem {
  file: string;
  line: number;
  column: number;
  /** Dotted path in the document, e.g. `regions[1].location.lat`. Empty for the whole file. */
  path: string;
  message: string;
}

export class TopologyError extends MeridianError {
  override name = 'TopologyError';
  readonly problems: TopologyProblem[];
  constructor(file: string, problems: TopologyProblem[]) {
    super(ErrorCode.TopologyInvalid, `${file}: ${problems.length} problem${problems.length === 1 ? '' : 's'}\n${problems.map(formatProblem).join('\n')}`, { details: { file } });
    this.problems = problems;
  }
}

export function formatProblem(p: TopologyProblem): string {
  return `${p.file}:${p.line}:${p.column} ${p.path ? p.path + ': ' : ''}${p.message}`;
}

function pathString(path: readonly PropertyKey[]): string {
  let s = '';
  for (const k of path) s += typeof k === 'number' ? `[${k}]` : `${s ? '.' : ''}${String(k)}`;
  return s;
}

/** Position of the deepest existing node on `path` (a missing key points at its parent). */
function locate(doc: Document, lc: LineCounter, path: readonly PropertyKey[]): { line: number; col: number } {
  for (let n = path.length; n >= 0; n--) {
    const node: unknown = n === 0 ? doc.contents : doc.getIn(path.slice(0, n) as unknown[], true);
    if (isNode(node) && node.range) return lc.linePos(node.range[0]);
  }
  return { line: 1, col: 1 };
}

/** Parse and validate topology text. Throws `TopologyError` with every problem found. */
export function parseTopology(text: string, file = 'meridian.yaml'): Topology {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: true, uniqueKeys: true });
  const problems: TopologyProblem[] = [];
  for (const e of doc.errors) {
    const pos = e.linePos?.[0] ?? { line: 1, col: 1 };
    problems.push({ file, line: pos.line, column: pos.col, path: '', message: e.message.split('\n')[0] ?? e.code });
  }
  if (problems.length) throw new TopologyError(file, problems);

  const raw: unknown = doc.toJS() ?? {};
  const parsed = TopologySchema.safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      // An unknown key is reported at the key itself, one problem per key.
      const keys = issue.code === 'unrecognized_keys' ? issue.keys : [undefined];
      for (const key of keys) {
        const path = key === undefined ? issue.path : [...issue.path, key];
        const at = locate(doc, lc, path);
        const message = key === undefined ? issue.message : `unknown key "${key}"`;
        problems.push({ file, line: at.line, column: at.col, path: pathString(path), message });
      }
    }
  }
  for (const f of crossCheck(raw)) {
    const at = locate(doc, lc, f.path);
    problems.push({ file, line: at.line, column: at.col, path: pathString(f.path), message: f.message });
  }
  if (problems.length || !parsed.success) throw new TopologyError(file, sortProblems(problems));
  return parsed.data;
}

function sortProblems(ps: TopologyProblem[]): TopologyProblem[] {
  return ps.sort((a, b) => a.line - b.line || a.column - b.column);
}

export async function loadTopology(file: string): Promise<Topology> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new MeridianError(ErrorCode.TopologyNotFound, `cannot read topology file ${file}: ${(err as Error).message}`, { cause: err, details: { file } });
  }
  return parseTopology(text, file);
}
