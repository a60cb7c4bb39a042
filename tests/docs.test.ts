/**
 * The README and docs/*.md name commands, flags, test ids, `window.__atlas` fields, files and links; each is
 * checked here against package.json, the commands' argument tables and src/, so a rename that leaves the docs
 * behind fails with the stale name and where the docs use it.
 *
 * How the docs are read:
 * - `npm run X` (and `npm start`, `npm test`) anywhere must be a script in package.json.
 * - Flags on a command line, in a code block or an inline span that starts with `npm run X`, must be options of
 *   X's source (the node:util `parseArgs` table where it has one, else the keys it reads and the flags its
 *   usage text names). A span that starts with `--` belongs to the commands its section names, or to any
 *   command where the section names none. Lines and spans that start with another program are not read.
 * - `data-testid="x"`, and every backticked kebab-case name in a paragraph or list item that says "test id"
 *   or "data-testid", must be a test id in src/.
 * - `window.__atlas.x`, and every backticked bare identifier in a paragraph or list item that names
 *   `window.__atlas`, must be a field of src/app/testHook.ts.
 * - Relative links and images must exist, with their #anchors; backticked repository paths must exist.
 * - Every package in package.json is named in the README, whose dependency table says why.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const read = (path: string) => readFileSync(join(root, path), 'utf8');

interface Block {
  text: string;
  line: number;
  section: number;
}

interface CodeLine {
  text: string;
  line: number;
  section: number;
}

interface Doc {
  path: string;
  blocks: Block[];
  code: CodeLine[];
  /** Each section's heading anchor and every line of it, prose and code, for the commands it names. */
  sections: { anchor: string; text: string }[];
}

/** GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  return heading
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

/** Splits a markdown file into prose blocks (paragraphs, list items, table rows) and code lines, by section. */
function parseDoc(path: string): Doc {
  const lines = read(path).split('\n');
  const doc: Doc = { path, blocks: [], code: [], sections: [{ anchor: '', text: '' }] };
  const seen = new Map<string, number>();
  let fence = false;
  let block: Block | null = null;
  const close = () => {
    if (block) doc.blocks.push(block);
    block = null;
  };
  lines.forEach((raw, index) => {
    const line = index + 1;
    const section = doc.sections.length - 1;
    const heading = fence ? null : /^#{1,6}\s+(.*)$/.exec(raw);
    if (!heading) doc.sections[section].text += raw + '\n';
    if (/^\s*```/.test(raw)) {
      close();
      fence = !fence;
      return;
    }
    if (fence) {
      doc.code.push({ text: raw, line, section });
      return;
    }
    if (heading) {
      close();
      const base = slug(heading[1]);
      const count = seen.get(base) ?? 0;
      seen.set(base, count + 1);
      doc.sections.push({ anchor: count ? `${base}-${count}` : base, text: raw + '\n' });
      doc.blocks.push({ text: heading[1], line, section: doc.sections.length - 1 });
      return;
    }
    if (!raw.trim()) return close();
    if (/^([-*]|\d+\.)\s|^\|/.test(raw)) close();
    if (block) block.text += '\n' + raw;
    else block = { text: raw, line, section };
  });
  close();
  return doc;
}

const docPaths = ['README.md', ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`)];
const docs = docPaths.map(parseDoc);
const packageJson = JSON.parse(read('package.json')) as { scripts: Record<string, string>; dependencies: Record<string, string>; devDependencies: Record<string, string> };

/** Inline code spans of a block, with whitespace (line breaks inside a span) folded. */
const spans = (text: string) => [...text.matchAll(/`([^`]+)`/g)].map((m) => m[1].replace(/\s+/g, ' ').trim());

function sourceFiles(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory()) return sourceFiles(path);
    return /\.(ts|tsx)$/.test(entry.name) ? [path] : [];
  });
}
const srcFiles = sourceFiles('src');
const srcText = srcFiles.map((f) => read(f)).join('\n');

// ---- commands and their flags -------------------------------------------------------------------

/** The TypeScript files a package.json script runs. */
function scriptSources(script: string): string[] {
  return [...(packageJson.scripts[script] ?? '').matchAll(/\b((?:src|bench|scripts)\/[\w./-]+\.ts)\b/g)].map((m) => m[1]);
}

/** The flags a source file accepts: its node:util parseArgs options, else the keys it reads and its usage's flags. */
function sourceFlags(path: string): Set<string> {
  const text = read(path);
  const table = /parseArgs\(\{\s*(?:args:[^,]*,\s*)?options:\s*\{/.exec(text);
  if (table) {
    let depth = 1;
    let end = table.index + table[0].length;
    while (depth > 0 && end < text.length) {
      if (text[end] === '{') depth++;
      else if (text[end] === '}') depth--;
      end++;
    }
    const options = text.slice(table.index + table[0].length, end);
    return new Set([...options.matchAll(/(?:'([a-z][\w-]*)'|\b([a-z]\w*))\s*:\s*\{\s*type\s*:/g)].map((m) => m[1] ?? m[2]));
  }
  return new Set([...text.matchAll(/\.(?:get|has)\('([a-z][\w-]*)'\)/g), ...text.matchAll(/(?<![\w-])--([a-z][\w-]*)/g)].map((m) => m[1]));
}

const commandFlags = new Map<string, Set<string>>();
for (const script of Object.keys(packageJson.scripts)) {
  const files = scriptSources(script);
  if (files.length) commandFlags.set(script, new Set(files.flatMap((f) => [...sourceFlags(f)])));
}
const anyCommandFlags = new Set([...commandFlags.values()].flatMap((s) => [...s]));

const flagsIn = (text: string) => [...text.replace(/\s#\s.*$/, '').matchAll(/(?:^|[\s[(|])--([a-z][a-z0-9-]*)/g)].map((m) => m[1]);
const npmRuns = (text: string) => [...text.matchAll(/\bnpm run ([\w:-]*\w)/g)].map((m) => m[1]);

interface Named {
  doc: string;
  line: number;
  name: string;
}

/** Each (command, flag) the docs name, with where. */
function namedFlags(): (Named & { commands: string[] | null })[] {
  const found: (Named & { commands: string[] | null })[] = [];
  for (const doc of docs) {
    const sectionCommands = doc.sections.map((s) => [...new Set(npmRuns(s.text))].filter((c) => commandFlags.has(c)));
    const add = (text: string, line: number, section: number) => {
      const command = /^npm run ([\w:-]*\w)(.*)$/s.exec(text);
      if (command) {
        for (const flag of flagsIn(command[2])) found.push({ doc: doc.path, line, name: flag, commands: [command[1]] });
      } else if (text.startsWith('--')) {
        const commands = sectionCommands[section];
        for (const flag of flagsIn(text)) found.push({ doc: doc.path, line, name: flag, commands: commands.length ? commands : null });
      }
    };
    for (const block of doc.blocks) for (const span of spans(block.text)) add(span, block.line, block.section);
    for (let i = 0; i < doc.code.length; i++) {
      let { text } = doc.code[i];
      const { line, section } = doc.code[i];
      while (text.trimEnd().endsWith('\\') && i + 1 < doc.code.length) text = text.trimEnd().slice(0, -1) + ' ' + doc.code[++i].text;
      add(text.trim(), line, section);
    }
  }
  return found;
}

// ---- test ids and window.__atlas ----------------------------------------------------------------

/** The text of a `{...}` expression starting at `open`, braces balanced (template `${}`s included). */
function braced(text: string, open: number): string {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if (text[i] === '{') depth++;
    else if (text[i] === '}' && --depth === 0) return text.slice(open + 1, i);
  }
  return text.slice(open + 1);
}

/** Test ids in src/: literal `data-testid`s, the strings a `data-testid={...}` expression can give, `testId` props. */
function sourceTestIds(): { ids: Set<string>; patterns: RegExp[] } {
  const ids = new Set<string>();
  const patterns: RegExp[] = [];
  for (const m of srcText.matchAll(/data-testid=(?:"([^"]+)"|\{)/g)) {
    if (m[1]) {
      ids.add(m[1]);
      continue;
    }
    const expression = braced(srcText, m.index + m[0].length - 1);
    for (const s of expression.matchAll(/'([^']+)'|"([^"]+)"/g)) ids.add(s[1] ?? s[2]);
    for (const template of expression.matchAll(/`([^`]*)`/g)) {
      const parts = template[1].split(/\$\{[^}]*\}/).map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
      patterns.push(new RegExp(`^${parts.join('[a-z0-9-]+')}$`));
    }
  }
  for (const m of srcText.matchAll(/\btestId\s*[:=]\s*['"]([^'"]+)['"]/g)) ids.add(m[1]);
  return { ids, patterns };
}

function namedTestIds(): Named[] {
  const found: Named[] = [];
  for (const doc of docs) {
    for (const block of doc.blocks) {
      for (const m of block.text.matchAll(/data-testid="([^"]+)"/g)) found.push({ doc: doc.path, line: block.line, name: m[1] });
      if (!/test ids?\b|data-testid/i.test(block.text)) continue;
      for (const span of spans(block.text)) if (span !== 'data-testid' && /^[a-z][a-z0-9]*(?:-[a-z0-9]+)+$/.test(span)) found.push({ doc: doc.path, line: block.line, name: span });
    }
  }
  return found;
}

function namedHookFields(): Named[] {
  const found: Named[] = [];
  for (const doc of docs) {
    for (const block of [...doc.blocks, ...doc.code]) {
      for (const m of block.text.matchAll(/window\.__atlas\.(\w+)/g)) found.push({ doc: doc.path, line: block.line, name: m[1] });
      if (!block.text.includes('`window.__atlas`')) continue;
      for (const span of spans(block.text)) {
        const field = /^([A-Za-z_$][\w$]*)(?:\(\))?$/.exec(span);
        if (field) found.push({ doc: doc.path, line: block.line, name: field[1] });
      }
    }
  }
  return found;
}

// ---- links and paths ----------------------------------------------------------------------------

const anchorsOf = new Map(docs.map((d) => [d.path, new Set(d.sections.map((s) => s.anchor))]));

function namedLinks(): (Named & { target: string })[] {
  const found: (Named & { target: string })[] = [];
  for (const doc of docs) {
    for (const block of doc.blocks) {
      for (const m of block.text.matchAll(/!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
        const target = m[1];
        if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue;
        found.push({ doc: doc.path, line: block.line, name: m[0], target });
      }
    }
  }
  return found;
}

function linkProblem(doc: string, target: string): string | null {
  const [path, anchor] = target.split('#', 2) as [string, string | undefined];
  const file = path ? relative(root, resolve(root, dirname(doc), decodeURI(path))) : doc;
  if (path && !existsSync(join(root, file))) return `${file} does not exist`;
  if (anchor === undefined) return null;
  const anchors = anchorsOf.get(file) ?? (file.endsWith('.md') ? new Set(parseDoc(file).sections.map((s) => s.anchor)) : null);
  if (!anchors) return `#${anchor} points into ${file}, which is not markdown`;
  return anchors.has(anchor) ? null : `${file} has no heading with the anchor #${anchor}`;
}

const ignoredDirs = read('.gitignore')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l.endsWith('/') && !l.startsWith('#'));

function namedPaths(): Named[] {
  const found: Named[] = [];
  for (const doc of docs) {
    for (const block of doc.blocks) {
      for (const span of spans(block.text)) {
        if (/[\s*<>|]/.test(span)) continue;
        const repoPath = /^(?:src|tests|bench|scripts|models|public|docs)\/[\w./-]+$/.test(span);
        const srcPath = /^(?:app|atlas|cli|compute|export|featureVis|lib|model|panels|renderers|store|workers)\/[\w./-]+\.tsx?$/.test(span);
        if ((repoPath || srcPath) && !ignoredDirs.some((d) => span.startsWith(d))) found.push({ doc: doc.path, line: block.line, name: span });
      }
    }
  }
  return found;
}

const where = (n: Named) => `${n.doc}:${n.line}`;
const report = (problems: string[]) => `${problems.length} stale name(s) in the docs:\n  ${problems.join('\n  ')}`;

describe('the docs name only what exists', () => {
  it('every npm script they name is in package.json', () => {
    const problems: string[] = [];
    let count = 0;
    for (const doc of docs) {
      const lines = read(doc.path).split('\n');
      lines.forEach((text, i) => {
        for (const script of [...npmRuns(text), ...[...text.matchAll(/\bnpm (start|test)\b/g)].map((m) => m[1])]) {
          count++;
          if (!(script in packageJson.scripts)) problems.push(`${doc.path}:${i + 1}: \`npm run ${script}\` is not a script in package.json`);
        }
      });
    }
    expect(count, 'the docs should name npm scripts').toBeGreaterThan(20);
    expect(problems, report(problems)).toEqual([]);
  });

  it("every flag they give a command is in that command's argument table", () => {
    const named = namedFlags();
    const problems: string[] = [];
    for (const n of named) {
      if (n.commands === null) {
        if (!anyCommandFlags.has(n.name)) problems.push(`${where(n)}: --${n.name} is not a flag of any command (${[...commandFlags.keys()].join(', ')})`);
        continue;
      }
      const missing = n.commands.every((c) => !commandFlags.get(c)?.has(n.name));
      if (!missing) continue;
      const known = n.commands.map((c) => (commandFlags.has(c) ? `npm run ${c} takes ${[...commandFlags.get(c)!].map((f) => `--${f}`).join(' ')}` : `npm run ${c} has no TypeScript source whose flags could be read`));
      problems.push(`${where(n)}: --${n.name} is not a flag of ${n.commands.map((c) => `npm run ${c}`).join(' or ')} (${known.join('; ')})`);
    }
    expect(named.length, 'the docs should name flags').toBeGreaterThan(60);
    expect(new Set(named.map((n) => n.commands?.[0])).size, 'flags of several commands').toBeGreaterThan(4);
    expect(problems, report(problems)).toEqual([]);
  });

  it('every test id they name is a data-testid in src/', () => {
    const { ids, patterns } = sourceTestIds();
    const named = namedTestIds();
    const problems = named
      .filter((n) => !ids.has(n.name) && !patterns.some((p) => p.test(n.name)))
      .map((n) => `${where(n)}: test id \`${n.name}\` is not a data-testid in src/`);
    expect(new Set(named.map((n) => n.name)).size, 'the docs should name test ids').toBeGreaterThan(50);
    expect(problems, report(problems)).toEqual([]);
  });

  it('every window.__atlas field they name is in src/app/testHook.ts', () => {
    const hook = read('src/app/testHook.ts');
    const named = namedHookFields();
    const problems = named
      .filter((n) => !new RegExp(`\\b${n.name}\\??\\s*[:(]`).test(hook))
      .map((n) => `${where(n)}: window.__atlas.${n.name} is not a field of src/app/testHook.ts`);
    expect(new Set(named.map((n) => n.name)).size, 'the docs should name window.__atlas fields').toBeGreaterThan(20);
    expect(problems, report(problems)).toEqual([]);
  });

  it('the model worker hook and the status mark they name exist', () => {
    const problems: string[] = [];
    for (const doc of docs) {
      const text = read(doc.path);
      for (const m of text.matchAll(/self\.__atlasModelWorker\.(\w+)/g)) {
        if (!new RegExp(`__atlasModelWorker[^\\n]*\\b${m[1]}\\b`).test(srcText)) problems.push(`${doc.path}: self.__atlasModelWorker.${m[1]} is not set in src/`);
      }
      for (const m of text.matchAll(/performance\.mark\('([^']+)'/g)) {
        if (!read('src/app/testHook.ts').includes(`'${m[1]}'`)) problems.push(`${doc.path}: the performance mark '${m[1]}' is not made in src/app/testHook.ts`);
      }
    }
    expect(problems, report(problems)).toEqual([]);
  });

  it('every relative link and image exists, with its anchor', () => {
    const links = namedLinks();
    const problems = links.flatMap((l) => {
      const problem = linkProblem(l.doc, l.target);
      return problem ? [`${where(l)}: ${l.name}: ${problem}`] : [];
    });
    expect(links.filter((l) => l.target.endsWith('.png')).length, 'the docs should show screenshots').toBeGreaterThan(5);
    expect(problems, report(problems)).toEqual([]);
  });

  it('every repository path they name exists', () => {
    const named = namedPaths();
    const problems = named
      .filter((n) => !existsSync(join(root, n.name)) && !existsSync(join(root, 'src', n.name)))
      .map((n) => `${where(n)}: \`${n.name}\` does not exist (nor src/${n.name})`);
    expect(named.length, 'the docs should name files').toBeGreaterThan(20);
    expect(problems, report(problems)).toEqual([]);
  });

  it('the README says why each dependency is there, and names only real ones', () => {
    const readme = read('README.md');
    const all = { ...packageJson.dependencies, ...packageJson.devDependencies };
    const problems = Object.keys(all)
      .filter((name) => !readme.includes(`\`${name}\``))
      .map((name) => `README.md: the dependency \`${name}\` is not named (the README says why each one is there)`);
    const table = readme.slice(readme.indexOf('### Runtime dependencies'));
    for (const row of table.split('\n').filter((l) => /^\| `/.test(l))) {
      for (const name of spans(row.split('|')[1])) {
        if (!(name in packageJson.dependencies)) problems.push(`README.md: \`${name}\` is in the runtime table but not in package.json's dependencies`);
      }
    }
    expect(problems, report(problems)).toEqual([]);
  });

  it('the README fits a first screen and a short read', () => {
    const readme = read('README.md');
    const lines = readme.split('\n');
    expect(lines.length, 'README.md grows past about 150 lines: move detail into docs/').toBeLessThanOrEqual(170);
    const top = lines.slice(0, 40).join('\n');
    expect(top, 'the first screen shows a screenshot').toMatch(/!\[[^\]]*\]\(docs\/[\w-]+\.png\)/);
    expect(top, 'the first screen gives the two commands').toContain('npm install && npm start');
    expect(top, 'the first screen gives the two commands').toMatch(/^npm test\b/m);
    expect(statSync(join(root, 'docs')).isDirectory()).toBe(true);
  });
});
