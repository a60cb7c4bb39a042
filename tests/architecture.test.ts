import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * The layout's rules (STYLE.md), read from the import graph of src/: the folders depend on each other one way,
 * nothing but the app's entry imports app/, and compute/ and model/ run under Node (no React, store or DOM).
 * Type-only imports count: a folder that names another's types depends on it as much as one that calls it.
 */

const SRC = resolve(__dirname, '../src');

/** Folder cycles still to be broken, each with what breaks it; the test fails once one is gone, so the list stays true. */
const KNOWN_CYCLES: { folders: [string, string]; fix: string }[] = [];

/** Packages that make a module a page module: React, the store's zustand, deck.gl. */
const PAGE_PACKAGES = /^(react|react-dom|zustand|deck\.gl|@deck\.gl|@luma\.gl)(\/|$)/;
/** Globals that exist only in a page (a worker and Node have none of them). */
const DOM_GLOBALS = new Set(['document', 'window', 'localStorage', 'sessionStorage', 'HTMLElement', 'HTMLCanvasElement', 'HTMLImageElement', 'HTMLInputElement']);

interface Module {
  file: string;
  /** Folder under src/ ('(root)' for src/main.tsx...). */
  folder: string;
  /** Resolved files under src/ this one imports. */
  imports: string[];
  /** Bare package specifiers. */
  packages: string[];
  source: string;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(path);
    return /\.tsx?$/.test(e.name) && !e.name.endsWith('.d.ts') ? [path] : [];
  });
}

function folderOf(file: string): string {
  const parts = relative(SRC, file).split(sep);
  return parts.length > 1 ? parts[0] : '(root)';
}

function resolveImport(from: string, specifier: string): string | null {
  const base = resolve(dirname(from), specifier.replace(/\?.*$/, '').replace(/\.js$/, ''));
  for (const candidate of [base, `${base}.ts`, `${base}.tsx`, join(base, 'index.ts'), join(base, 'index.tsx')]) {
    if (existsSync(candidate) && statSync(candidate).isFile()) return candidate;
  }
  return null;
}

/** Every module of src/ with its imports: static, type-only, re-exports and dynamic `import()`. */
function readGraph(): Map<string, Module> {
  const graph = new Map<string, Module>();
  for (const file of sourceFiles(SRC)) {
    const source = readFileSync(file, 'utf8');
    const { importedFiles } = ts.preProcessFile(source, true, true);
    const imports: string[] = [];
    const packages: string[] = [];
    for (const { fileName } of importedFiles) {
      if (!fileName.startsWith('.')) packages.push(fileName);
      else {
        const target = resolveImport(file, fileName);
        if (target?.startsWith(SRC + sep)) imports.push(target);
      }
    }
    graph.set(file, { file, folder: folderOf(file), imports, packages, source });
  }
  return graph;
}

const graph = readGraph();
const name = (file: string) => relative(SRC, file).split(sep).join('/');

/** For each pair of folders that import each other, directly or through others: one file-level import of each way round. */
function folderCycles(): { folders: [string, string]; evidence: string[] }[] {
  const edges = new Map<string, Map<string, string>>();
  for (const m of graph.values()) {
    for (const target of m.imports) {
      const to = folderOf(target);
      if (to === m.folder) continue;
      const out = edges.get(m.folder) ?? new Map<string, string>();
      if (!out.has(to)) out.set(to, `${name(m.file)} -> ${name(target)}`);
      edges.set(m.folder, out);
    }
  }
  const reach = (from: string): Set<string> => {
    const seen = new Set<string>();
    const stack = [from];
    while (stack.length) for (const next of edges.get(stack.pop()!)?.keys() ?? []) if (!seen.has(next)) seen.add(next), stack.push(next);
    return seen;
  };
  const folders = [...edges.keys()].sort();
  const reachable = new Map(folders.map((f) => [f, reach(f)]));
  const cycles: { folders: [string, string]; evidence: string[] }[] = [];
  for (const a of folders) {
    for (const b of folders) {
      if (a >= b || !reachable.get(a)!.has(b) || !reachable.get(b)?.has(a)) continue;
      // Name a direct import each way where there is one; a longer loop shows as pairs of its own.
      const direct = [edges.get(a)?.get(b), edges.get(b)?.get(a)].filter((e): e is string => e !== undefined);
      cycles.push({ folders: [a, b], evidence: direct.length ? direct : [`${a} and ${b} reach each other through other folders`] });
    }
  }
  return cycles;
}

/** Every module reachable from those of `folders`, with the chain of imports that reaches it. */
function closureOf(folders: string[]): Map<string, string[]> {
  const chains = new Map<string, string[]>();
  const queue = [...graph.values()].filter((m) => folders.includes(m.folder)).map((m) => m.file);
  for (const file of queue) chains.set(file, [name(file)]);
  while (queue.length) {
    const file = queue.shift()!;
    for (const target of graph.get(file)?.imports ?? []) {
      if (chains.has(target)) continue;
      chains.set(target, [...chains.get(file)!, name(target)]);
      queue.push(target);
    }
  }
  return chains;
}

/** Uses of page-only globals (`document.x`, `window`, `HTMLCanvasElement`...) in code: not in comments, as property names or where the file declares the name itself (a text's `window`). */
function domGlobals(file: string, source: string): string[] {
  const root = ts.createSourceFile(file, source, ts.ScriptTarget.Latest, true, file.endsWith('.tsx') ? ts.ScriptKind.TSX : ts.ScriptKind.TS);
  const declared = new Set<string>();
  const used = new Set<string>();
  const visit = (node: ts.Node) => {
    if (ts.isIdentifier(node) && DOM_GLOBALS.has(node.text)) {
      const p = node.parent;
      const declares = (ts.isVariableDeclaration(p) || ts.isParameter(p) || ts.isBindingElement(p) || ts.isFunctionDeclaration(p) || ts.isImportSpecifier(p)) && p.name === node;
      const isPropertyName = (ts.isPropertyAccessExpression(p) && p.name === node) || ((ts.isPropertyAssignment(p) || ts.isPropertySignature(p) || ts.isPropertyDeclaration(p)) && p.name === node);
      if (declares) declared.add(node.text);
      else if (!isPropertyName) used.add(node.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(root);
  return [...used].filter((g) => !declared.has(g));
}

describe('architecture: the folders of src/', () => {
  it('reads a graph of src/ (the test itself works)', () => {
    expect(graph.size).toBeGreaterThan(50);
    const panel = [...graph.values()].find((m) => m.folder === 'panels')!;
    expect(panel.imports.length + panel.packages.length).toBeGreaterThan(0);
  });

  it('depend on each other one way: no two folders import each other, directly or through others', () => {
    const known = (c: { folders: [string, string] }) => KNOWN_CYCLES.some((k) => k.folders.join() === c.folders.join());
    const cycles = folderCycles();
    expect(cycles.filter((c) => !known(c)).map((c) => `${c.folders.join(' <-> ')}: ${c.evidence.join('; ')}`)).toEqual([]);
    // A known cycle that is gone leaves the list: it must not excuse a new one.
    expect(KNOWN_CYCLES.filter((k) => !cycles.some((c) => c.folders.join() === k.folders.join())).map((k) => k.folders.join(' <-> '))).toEqual([]);
  });

  it('nothing but the entry (src/main.tsx) and app/ itself imports app/: panels, the atlas view and the renderers are wired by it', () => {
    const wrong = [...graph.values()].flatMap((m) =>
      m.folder === 'app' || m.folder === '(root)' ? [] : m.imports.filter((t) => folderOf(t) === 'app').map((t) => `${name(m.file)} -> ${name(t)}`),
    );
    expect(wrong).toEqual([]);
  });

  it('compute/ and model/ reach no React, store, page folder or DOM global, through any chain of imports', () => {
    const closure = closureOf(['compute', 'model']);
    const wrong: string[] = [];
    for (const [file, chain] of closure) {
      const m = graph.get(file)!;
      const via = chain.join(' -> ');
      if (['app', 'panels', 'atlas', 'renderers', 'store'].includes(m.folder)) wrong.push(`${via} (a page module)`);
      if (file.endsWith('.tsx')) wrong.push(`${via} (JSX)`);
      for (const p of m.packages.filter((p) => PAGE_PACKAGES.test(p))) wrong.push(`${via} imports ${p}`);
      for (const g of domGlobals(file, m.source)) wrong.push(`${via} uses ${g}`);
    }
    expect(closure.size).toBeGreaterThan(20);
    expect(wrong).toEqual([]);
  });
});
