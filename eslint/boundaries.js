// Local ESLint rule that keeps the module boundaries of the architecture:
//   contracts/            imports nothing of ours
//   connectors/<name>/    imports contracts/ and connectors/kit/ only (never hub/, never another connector)
//   connectors/kit/       the connectors' shared plumbing; imports contracts/ only
//   domain code           (contracts/, hub/src/routing/) imports no infrastructure package
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');

const infrastructure = [
  /^better-sqlite3$/,
  /^@nats-io\//,
  /^@kurrent\//,
  /^testcontainers$/,
  /^(node:)?(fs|fs\/promises|net|http|https|child_process|worker_threads|dgram|cluster)$/,
];

function moduleOf(file) {
  const rel = path.relative(root, file).split(path.sep);
  if (rel[0] === 'contracts') return { kind: 'contracts' };
  if (rel[0] === 'connectors' && rel[1]) return { kind: 'connector', name: rel[1] };
  if (rel[0] === 'hub') return { kind: 'hub', domain: rel[1] === 'src' && rel[2] === 'routing' };
  return { kind: 'other' };
}

function violation(from, specifier, filename) {
  const isRelative = specifier.startsWith('.') || specifier.startsWith('/');
  const fromDomain = from.kind === 'contracts' || (from.kind === 'hub' && from.domain);
  if (!isRelative) {
    if (fromDomain && infrastructure.some((re) => re.test(specifier))) {
      return `domain code must not import the infrastructure package '${specifier}'`;
    }
    return null;
  }
  const target = moduleOf(path.resolve(path.dirname(filename), specifier));
  if (from.kind === 'contracts' && target.kind !== 'contracts') {
    return `contracts/ imports nothing of ours ('${specifier}')`;
  }
  if (from.kind === 'connector') {
    const ok =
      target.kind === 'contracts' ||
      (target.kind === 'connector' && (target.name === from.name || (target.name === 'kit' && from.name !== 'kit')));
    if (!ok) return `connectors/${from.name} may import only contracts/ and connectors/kit/ ('${specifier}')`;
  }
  return null;
}

export default {
  rules: {
    boundaries: {
      meta: { type: 'problem', schema: [], docs: { description: 'module boundaries of elfe-hub' } },
      create(context) {
        const filename = context.filename;
        const from = moduleOf(filename);
        const check = (node, source) => {
          if (!source || typeof source.value !== 'string') return;
          const message = violation(from, source.value, filename);
          if (message) context.report({ node, message });
        };
        return {
          ImportDeclaration: (node) => check(node, node.source),
          ExportNamedDeclaration: (node) => check(node, node.source),
          ExportAllDeclaration: (node) => check(node, node.source),
          ImportExpression: (node) => check(node, node.source),
        };
      },
    },
  },
};
