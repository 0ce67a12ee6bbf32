// Fails when the folders of src/ import each other in a cycle (npm run lint: `madge --json src |
// node scripts/folder-cycles.mjs`).
//
// Why not only `madge --circular`: it finds cycles between files, and a folder can reach back
// into a folder that reaches it through files that never meet (node/ imported runtime/'s module
// contract while runtime/ assembles node/). Folders are the layers of docs/architecture.md, so
// their dependencies must point one way. Why not dependency-cruiser: madge is installed and
// already reads the TypeScript imports (type-only ones too: a type reaching back up is a cycle
// of the design all the same); this only folds its graph.
//
// Reads madge's JSON (file -> files it imports, paths relative to src/) on stdin or from the
// file named as the first argument. A file in a folder belongs to its top-level folder
// (edge/server/x.ts is edge); a file directly in src/ is its own node (mod.ts, the package's
// entry point, imports most folders by design; version.ts is a leaf). Prints each cycle with the
// imports that make it and exits 1; exits 0 with one line when there is none.
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

// Folder edges accepted for now, each with why. Empty: there is no folder cycle. An entry that no
// longer matches any import fails the check too, so the list only shrinks.
const ALLOWED = new Map([
  // ['from -> to', 'why it is accepted, and what would remove it'],
]);

const nodeOf = (file) => (file.includes('/') ? file.slice(0, file.indexOf('/')) : file);

/** Folder graph: Map<from, Map<to, string[] (the file imports behind the edge)>>. */
export function foldToFolders(graph) {
  const edges = new Map();
  for (const [file, deps] of Object.entries(graph)) {
    const from = nodeOf(file);
    if (!edges.has(from)) edges.set(from, new Map());
    for (const dep of deps) {
      const to = nodeOf(dep);
      if (to === from) continue;
      const out = edges.get(from);
      if (!out.has(to)) out.set(to, []);
      out.get(to).push(`${file} -> ${dep}`);
    }
  }
  return edges;
}

/** Strongly connected components with more than one node (Tarjan), each sorted, in a stable order. */
export function cycles(edges) {
  let next = 0;
  const index = new Map();
  const low = new Map();
  const stack = [];
  const onStack = new Set();
  const found = [];
  const visit = (v) => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v)?.keys() ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v), index.get(w)));
      }
    }
    if (low.get(v) === index.get(v)) {
      const scc = [];
      let w;
      do {
        w = stack.pop();
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1) found.push(scc.sort());
    }
  };
  for (const v of [...edges.keys()].sort()) if (!index.has(v)) visit(v);
  return found.sort((a, b) => a[0].localeCompare(b[0]));
}

/** The report: problems (cycles, stale allow-list entries) as text lines; empty when clean. */
export function check(graph, allowed = ALLOWED) {
  const edges = foldToFolders(graph);
  const problems = [];
  for (const key of allowed.keys()) {
    const [from, to] = key.split(' -> ');
    if (!edges.get(from)?.has(to)) problems.push(`allow-list entry "${key}" matches no import any more: remove it`);
  }
  const kept = new Map();
  for (const [from, out] of edges) kept.set(from, new Map([...out].filter(([to]) => !allowed.has(`${from} -> ${to}`))));
  for (const scc of cycles(kept)) {
    problems.push(`folder cycle: ${scc.join(', ')}`);
    const members = new Set(scc);
    for (const from of scc) {
      for (const [to, imports] of [...kept.get(from)].sort(([a], [b]) => a.localeCompare(b))) {
        if (!members.has(to)) continue;
        problems.push(`  ${from} -> ${to}: ${imports.join('; ')}`);
      }
    }
  }
  return problems;
}

function main() {
  const source = process.argv[2];
  let graph;
  try {
    const text = readFileSync(source ?? 0, 'utf8');
    graph = JSON.parse(text);
    if (graph === null || typeof graph !== 'object' || Array.isArray(graph) || Object.keys(graph).length === 0) throw new Error('not a non-empty madge --json graph');
  } catch (err) {
    console.error(`folder-cycles: cannot read madge's graph from ${source ?? 'stdin'}: ${err.message}`);
    process.exit(1);
  }
  const problems = check(graph);
  if (problems.length > 0) {
    console.error(problems.join('\n'));
    process.exit(1);
  }
  console.log(`folder-cycles: no import cycle between the ${foldToFolders(graph).size} folders and files of src/`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) main();
