// A StrykerJS ignorer: no mutants inside log statements (`logger.warn(...)`,
// `this.opts.logger.info(...)`). Their text and fields are for people reading logs; no test
// should pin them, so every such mutant would only be noise in the survivor list.
// The plugin object is written out (kind 'Ignore') rather than imported from @stryker-mutator/api.
const LEVELS = new Set(['trace', 'debug', 'info', 'warn', 'error', 'fatal']);

/** Is this expression `logger`, `x.logger` or `this.opts.logger`? */
function isLogger(node) {
  if (node.type === 'Identifier') return node.name === 'logger';
  return node.type === 'MemberExpression' && !node.computed && node.property.type === 'Identifier' && node.property.name === 'logger';
}

export const strykerPlugins = [
  {
    kind: 'Ignore',
    name: 'logging',
    value: {
      shouldIgnore(path) {
        const node = path.node;
        if (node.type !== 'ExpressionStatement' || node.expression.type !== 'CallExpression') return undefined;
        const callee = node.expression.callee;
        if (callee.type !== 'MemberExpression' || callee.computed || callee.property.type !== 'Identifier') return undefined;
        if (!LEVELS.has(callee.property.name) || !isLogger(callee.object)) return undefined;
        return 'a log statement: what it says is not behaviour';
      },
    },
  },
];
