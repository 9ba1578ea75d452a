import { describe, expect, it } from 'vitest';

import { emptyRule, removesRule, routeRuleForm, ruleFields, ruleJid, ruleProblems, ruleSuffix, ruleText } from './rules';

describe('ruleSuffix', () => {
  it("finds the suffix of this agent's web rules", () => {
    expect(ruleSuffix('web:demo/flyer', 'demo')).toBe('flyer');
    expect(ruleSuffix('web:demo/a_1-b', 'demo')).toBe('a_1-b');
  });

  it('is null for rules the form cannot edit', () => {
    for (const jid of ['web:demo', 'web:demo/', 'web:other/flyer', 'web:demox/flyer', 'widget:demo/app_1', 'hook:demo/crm', 'hook:demo/crm/x', 'web:demo/a/b']) {
      expect(ruleSuffix(jid, 'demo')).toBeNull();
    }
  });
});

describe('ruleFields', () => {
  it('fills the form from a listed rule, a missing field as empty', () => {
    expect(ruleFields({ jid: 'web:demo/flyer', persona: 'Be brief.', greeting: null }, 'demo')).toEqual({
      suffix: 'flyer',
      persona: 'Be brief.',
      greeting: '',
    });
    expect(ruleFields({ jid: 'widget:demo/app_1', persona: 'x', greeting: 'y' }, 'demo')).toBeNull();
  });
});

describe('routeRuleForm', () => {
  it('trims, and sends an empty field as null', () => {
    expect(routeRuleForm({ suffix: ' flyer ', persona: '  Be brief.\n', greeting: '   ' })).toEqual({
      suffix: 'flyer',
      persona: 'Be brief.',
      greeting: null,
    });
    expect(routeRuleForm({ suffix: 'x', persona: '', greeting: 'Hi!' })).toEqual({ suffix: 'x', persona: null, greeting: 'Hi!' });
  });

  it('knows when a save removes the rule', () => {
    expect(removesRule({ suffix: 'x', persona: ' ', greeting: '' })).toBe(true);
    expect(removesRule({ suffix: 'x', persona: 'p', greeting: '' })).toBe(false);
  });

  it('builds the JID the rule is for', () => {
    expect(ruleJid('demo', ' flyer ')).toBe('web:demo/flyer');
  });
});

describe('ruleProblems', () => {
  const ok = { suffix: 'flyer', persona: 'Be brief.', greeting: '' };

  it('accepts a suffix with at least one override', () => {
    expect(ruleProblems(ok, 'demo', [])).toEqual({});
    expect(ruleProblems({ ...ok, persona: '', greeting: 'Hello!' }, 'demo', [])).toEqual({});
  });

  it('checks the suffix like a link suffix', () => {
    expect(ruleProblems({ ...ok, suffix: ' ' }, 'demo', []).suffix).toBe('Enter the suffix of the links this is for.');
    expect(ruleProblems({ ...ok, suffix: 'Flyer' }, 'demo', []).suffix).toBe('Use only lowercase letters, digits, - and _.');
    expect(ruleProblems({ ...ok, suffix: '-x' }, 'demo', []).suffix).toBe('Start with a letter or a digit.');
  });

  it('checks the lengths', () => {
    expect(ruleProblems({ ...ok, persona: 'x'.repeat(8001) }, 'demo', []).persona).toBe('Use at most 8000 characters.');
    expect(ruleProblems({ ...ok, persona: 'x'.repeat(8000) }, 'demo', [])).toEqual({});
    expect(ruleProblems({ ...ok, greeting: 'x'.repeat(501) }, 'demo', []).greeting).toBe('Use at most 500 characters.');
  });

  it('allows both empty only to remove the rule being edited', () => {
    const blank = { suffix: 'flyer', persona: ' ', greeting: '' };
    expect(ruleProblems(blank, 'demo', []).persona).toMatch(/^Write instructions or a greeting/);
    expect(ruleProblems(blank, 'demo', ['web:demo/flyer'])).toEqual({});
    expect(ruleProblems(blank, 'demo', ['web:demo/other']).persona).toMatch(/^Write instructions/);
    expect(ruleProblems(emptyRule(), 'demo', []).suffix).toBeDefined();
  });
});

describe('ruleText', () => {
  it("says when the agent's own applies", () => {
    expect(ruleText(null)).toBe("agent's own");
    expect(ruleText('Hi')).toBe('Hi');
  });
});
