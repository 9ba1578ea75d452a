import { describe, expect, it } from 'vitest';

import type { AgentInfo } from '../bindings/AgentInfo';
import {
  agentDirty,
  agentEdit,
  agentFields,
  agentProblems,
  budgetLine,
  DEFAULT_BASE_URL,
  engineFields,
  engineForm,
  engineLabel,
  hasProblems,
  knowledgeInput,
  knowledgeProblem,
  learnProblem,
  meaningProblems,
  meaningState,
  oneLine,
  phrasingsInput,
  phrasingsProblem,
  plural,
  textProblems,
  type AgentFields,
} from './agents';

function agent(over: Partial<AgentInfo> = {}): AgentInfo {
  return {
    slug: 'acme',
    name: 'Acme support',
    greeting: 'Hi!',
    instructions: 'Be brief.',
    engine: { kind: 'answers' },
    knowledge_count: 3,
    budget: {
      max_tokens: 1024,
      daily_requests: 2000,
      daily_tokens: 2_000_000,
      today_requests: 12,
      today_tokens: 3400,
      spent: false,
    },
    created_at: '2025-03-01T10:00:00Z',
    updated_at: '2025-03-01T10:00:00Z',
    embeddings: null,
    ...over,
  };
}

const openai = { kind: 'openai', base_url: 'http://127.0.0.1:11434/v1', model: 'llama3.2', api_key_set: true } as const;

describe('engine form <-> EngineForm', () => {
  it('fills the form from the saved engine, offering a default URL for answers', () => {
    expect(engineFields({ kind: 'answers' })).toEqual({ kind: 'answers', base_url: DEFAULT_BASE_URL, model: '' });
    expect(engineFields(openai)).toEqual({ kind: 'openai', base_url: openai.base_url, model: 'llama3.2' });
  });

  it('sends only the chosen kind, trimmed, and never an api key', () => {
    expect(engineForm({ kind: 'answers', base_url: 'https://x.example', model: 'm' })).toEqual({ kind: 'answers' });
    expect(engineForm({ kind: 'openai', base_url: ' https://api.openai.com/v1 ', model: ' gpt-4o-mini ' })).toEqual({
      kind: 'openai',
      base_url: 'https://api.openai.com/v1',
      model: 'gpt-4o-mini',
    });
    expect(Object.keys(engineForm(engineFields(openai))).sort()).toEqual(['base_url', 'kind', 'model']);
  });

  it('round-trips an openai engine', () => {
    const { api_key_set: _, ...form } = openai;
    expect(engineForm(engineFields(openai))).toEqual(form);
  });

  it('keeps the typed fields when the radio goes back and forth', () => {
    const f = engineFields(openai);
    f.kind = 'answers';
    expect(engineForm(f)).toEqual({ kind: 'answers' });
    f.kind = 'openai';
    expect(engineForm(f)).toEqual({ kind: 'openai', base_url: openai.base_url, model: 'llama3.2' });
  });

  it('labels engines', () => {
    expect(engineLabel({ kind: 'answers' })).toBe('Built-in answers');
    expect(engineLabel(openai)).toBe('OpenAI-compatible · llama3.2');
  });
});

describe('agentEdit / agentDirty', () => {
  it('trims the texts', () => {
    const f: AgentFields = { ...agentFields(agent()), name: '  Acme  ', greeting: ' Hello ', instructions: '\nBe kind.\n' };
    expect(agentEdit(f)).toEqual({
      name: 'Acme',
      greeting: 'Hello',
      instructions: 'Be kind.',
      engine: { kind: 'answers' },
      budget: null,
    });
  });

  it('sends the spending limits only when one changed, and checks them', () => {
    const a = agent({ engine: openai });
    const f = agentFields(a);
    expect(agentEdit(f, a).budget).toBeNull();
    expect(agentDirty(a, f)).toBe(false);
    f.budget.daily_requests = ' 50 ';
    expect(agentDirty(a, f)).toBe(true);
    expect(agentEdit(f, a).budget).toEqual({ max_tokens: 1024, daily_requests: 50, daily_tokens: 2_000_000 });
    expect(agentProblems(f)).toEqual({});
    for (const bad of ['0', '-1', '1.5', 'lots', '', '2000000']) {
      f.budget.max_tokens = bad;
      expect(agentProblems(f).max_tokens, bad).toMatch(/whole number from 1 to 1,000,000/);
    }
    f.budget.max_tokens = '1000000';
    expect(agentProblems(f)).toEqual({});
  });

  it('says what was spent today', () => {
    expect(budgetLine(agent())).toBe('Today (UTC): 12 of 2,000 requests · 3,400 of 2,000,000 tokens');
  });

  it('is clean for the saved values, whitespace included', () => {
    const a = agent();
    expect(agentDirty(a, agentFields(a))).toBe(false);
    expect(agentDirty(a, { ...agentFields(a), name: ' Acme support ' })).toBe(false);
    expect(agentDirty(a, { ...agentFields(a), greeting: 'Hello' })).toBe(true);
  });

  it('sees an engine change, but not edits to the hidden openai fields', () => {
    const a = agent();
    const f = agentFields(a);
    f.engine.model = 'typed but not chosen';
    expect(agentDirty(a, f)).toBe(false);
    f.engine.kind = 'openai';
    expect(agentDirty(a, f)).toBe(true);
    const b = agent({ engine: openai });
    const g = agentFields(b);
    expect(agentDirty(b, g)).toBe(false);
    g.engine.model = 'gpt-4o';
    expect(agentDirty(b, g)).toBe(true);
  });
});

describe('agentProblems', () => {
  const ok = agentFields(agent());

  it('accepts a valid form', () => {
    expect(agentProblems(ok)).toEqual({});
    expect(hasProblems(agentProblems(ok))).toBe(false);
    expect(agentProblems(agentFields(agent({ engine: openai })))).toEqual({});
  });

  it('checks the texts like the server (code points, trimmed)', () => {
    expect(textProblems({ name: '   ', greeting: '', instructions: '' }).name).toBe('Enter a name.');
    expect(textProblems({ name: 'x'.repeat(81), greeting: '', instructions: '' }).name).toBeDefined();
    // 80 emoji are 160 UTF-16 units but 80 characters for the server.
    expect(textProblems({ name: '😀'.repeat(80), greeting: '', instructions: '' })).toEqual({});
    expect(textProblems({ name: 'a', greeting: 'g'.repeat(501), instructions: '' }).greeting).toBeDefined();
    expect(textProblems({ name: 'a', greeting: ` ${'g'.repeat(500)} `, instructions: '' })).toEqual({});
    expect(textProblems({ name: 'a', greeting: '', instructions: 'i'.repeat(8001) }).instructions).toBeDefined();
  });

  it('checks the openai fields only when openai is chosen', () => {
    const bad: AgentFields = { ...ok, engine: { kind: 'answers', base_url: 'nope', model: '' } };
    expect(agentProblems(bad)).toEqual({});
    bad.engine.kind = 'openai';
    const p = agentProblems(bad);
    expect(Object.keys(p).sort()).toEqual(['base_url', 'model']);
  });

  it('wants an http(s) URL and a model name', () => {
    const with_ = (base_url: string, model = 'm') => agentProblems({ ...ok, engine: { kind: 'openai', base_url, model } });
    expect(with_('https://api.openai.com/v1')).toEqual({});
    expect(with_('http://127.0.0.1:11434/v1')).toEqual({});
    expect(with_('').base_url).toBe('Enter the provider’s base URL.');
    expect(with_('api.openai.com').base_url).toBeDefined();
    expect(with_('ftp://files.example').base_url).toBe('The URL must start with http:// or https://.');
    expect(with_('https://x.example', '  ').model).toBe('Enter the model name.');
    expect(with_('https://x.example', 'm'.repeat(201)).model).toBeDefined();
  });
});

describe('knowledge', () => {
  it('maps a blank question to free text and trims', () => {
    expect(knowledgeInput('  ', ' Open 9–5. ')).toEqual({ question: null, answer: 'Open 9–5.' });
    expect(knowledgeInput(' When? ', 'Now')).toEqual({ question: 'When?', answer: 'Now' });
  });

  it('needs an answer and keeps the limits', () => {
    expect(knowledgeProblem('Q', '  ')).toBe('Write the answer.');
    expect(knowledgeProblem('', 'a')).toBeNull();
    expect(knowledgeProblem('q'.repeat(500), 'a')).toBeNull();
    expect(knowledgeProblem('q'.repeat(501), 'a')).toMatch(/question/);
    expect(knowledgeProblem('', 'a'.repeat(20_000))).toBeNull();
    expect(knowledgeProblem('', 'a'.repeat(20_001))).toBe('Use at most 20,000 characters in the answer.');
  });

  it('keeps a learned question on one line', () => {
    expect(oneLine('  Do you\r\n make \t vegan\ncakes? ')).toBe('Do you make vegan cakes?');
    expect(oneLine(' \n ')).toBe('');
  });

  it('says which field of a learned question is wrong', () => {
    expect(learnProblem(' \n ', 'Yes.', true)).toEqual({ field: 'question', message: 'Write the question.' });
    expect(learnProblem('q'.repeat(501), 'Yes.', true)).toEqual({ field: 'question', message: 'Use at most 500 characters in the question.' });
    expect(learnProblem('q'.repeat(501), '', false)?.field).toBe('question');
    // Counted as it is kept: whitespace runs count once.
    expect(learnProblem(`${'q'.repeat(250)}\n\n\n${'q'.repeat(249)}`, 'Yes.', true)).toBeNull();
    expect(learnProblem('Vegan?', '  ', true)).toEqual({ field: 'answer', message: 'Write the answer.' });
    expect(learnProblem('Vegan?', 'a'.repeat(20_001), true)).toEqual({ field: 'answer', message: 'Use at most 20,000 characters in the answer.' });
    // A phrasing keeps its entry's answer: none is needed.
    expect(learnProblem('Vegan?', '', false)).toBeNull();
    expect(learnProblem('Vegan?', 'Yes.', true)).toBeNull();
  });

  it('reads "also asked as" one per line, as the core keeps it', () => {
    expect(phrasingsInput(' Parking? \n\n parking?\nWhere do I park\n')).toEqual(['Parking?', 'Where do I park']);
    expect(phrasingsInput('   ')).toEqual([]);
    expect(phrasingsProblem('', '')).toBeNull();
    expect(phrasingsProblem('', 'Where do I park')).toMatch(/^Free text/);
    expect(phrasingsProblem('Parking?', 'Where do I park')).toBeNull();
    expect(phrasingsProblem('Parking?', Array.from({ length: 21 }, (_, i) => `q${i}`).join('\n'))).toBe('Use at most 20 other phrasings.');
    expect(phrasingsProblem('Parking?', Array.from({ length: 20 }, (_, i) => `q${i}`).join('\n'))).toBeNull();
    expect(phrasingsProblem('Parking?', 'p'.repeat(501))).toMatch(/each phrasing/);
  });

  it('counts entries in English', () => {
    expect(plural(0, 'entry', 'entries')).toBe('0 entries');
    expect(plural(1, 'entry', 'entries')).toBe('1 entry');
    expect(plural(12, 'entry', 'entries')).toBe('12 entries');
  });
});

describe('match by meaning', () => {
  const embeddings = { base_url: 'http://127.0.0.1:11434/v1', model: 'nomic-embed-text', api_key_set: false, ready: false, problem: null };

  it('needs an http(s) server address and a model name', () => {
    expect(meaningProblems({ base_url: 'http://127.0.0.1:11434/v1', model: 'nomic-embed-text' })).toEqual({});
    const none = meaningProblems({ base_url: '  ', model: '' });
    expect(none.base_url).toMatch(/embeddings server/);
    expect(none.model).toMatch(/embedding model/);
    expect(meaningProblems({ base_url: 'ftp://x', model: 'm' }).base_url).toMatch(/http:\/\//);
    expect(meaningProblems({ base_url: 'localhost', model: 'm' }).base_url).toMatch(/full URL/);
    expect(meaningProblems({ base_url: 'http://x/v1', model: 'm'.repeat(201) }).model).toMatch(/at most 200/);
  });

  it('says whether it is off, reading, on or not working', () => {
    expect(meaningState(agent()).tone).toBe('off');
    expect(meaningState(agent({ embeddings })).tone).toBe('busy');
    const on = meaningState(agent({ embeddings: { ...embeddings, ready: true } }));
    expect(on).toMatchObject({ badge: 'on', tone: 'ok' });
    expect(on.text).toContain('nomic-embed-text');
    const bad = meaningState(agent({ embeddings: { ...embeddings, problem: 'the embeddings server answered 401' } }));
    expect(bad).toMatchObject({ badge: 'not working', tone: 'bad' });
    expect(bad.text).toContain('answered 401');
  });
});
