// Pure helpers behind the Agents screen: the agent form's fields and checks, and knowledge
// entries. No DOM, no Tauri, so vitest can pin them down. Limits mirror the core's
// (crates/core/src/app/agents.rs and knowledge.rs); the server checks again either way.

import type { AgentEdit } from '../bindings/AgentEdit';
import type { AgentInfo } from '../bindings/AgentInfo';
import type { EngineForm } from '../bindings/EngineForm';
import type { EngineInfo } from '../bindings/EngineInfo';

export const NAME_MAX = 80;
export const GREETING_MAX = 500;
export const INSTRUCTIONS_MAX = 8000;
export const MODEL_MAX = 200;
export const QUESTION_MAX = 500;
export const ANSWER_MAX = 20_000;

/** Offered when the owner switches an agent to the OpenAI-compatible engine. */
export const DEFAULT_BASE_URL = 'https://api.openai.com/v1';

export type EngineKind = EngineForm['kind'];

/** The engine part of the form: both kinds' fields are kept, so switching the radio back and
 * forth does not lose what was typed. */
export type EngineFields = { kind: EngineKind; base_url: string; model: string };

/** A provider agent's spending limits as typed (whole numbers); see `AgentBudget`. */
export type BudgetFields = { max_tokens: string; daily_requests: string; daily_tokens: string };

export type AgentFields = {
  name: string;
  greeting: string;
  instructions: string;
  engine: EngineFields;
  budget: BudgetFields;
};

export type AgentField = 'name' | 'greeting' | 'instructions' | 'base_url' | 'model' | keyof BudgetFields;

/** The most each limit accepts (the server's own checks are the same). */
export const BUDGET_MAX: Record<keyof BudgetFields, number> = {
  max_tokens: 1_000_000,
  daily_requests: 1_000_000_000,
  daily_tokens: 1_000_000_000_000,
};
export type AgentProblems = Partial<Record<AgentField, string>>;

/** Characters as the server counts them (code points, not UTF-16 units). */
function chars(s: string): number {
  return [...s].length;
}

export function engineFields(engine: EngineInfo): EngineFields {
  return engine.kind === 'openai'
    ? { kind: 'openai', base_url: engine.base_url, model: engine.model }
    : { kind: 'answers', base_url: DEFAULT_BASE_URL, model: '' };
}

/** What `update_agent` takes: the unused kind's fields are dropped, the rest trimmed. */
export function engineForm(fields: EngineFields): EngineForm {
  return fields.kind === 'openai'
    ? { kind: 'openai', base_url: fields.base_url.trim(), model: fields.model.trim() }
    : { kind: 'answers' };
}

export function engineLabel(engine: EngineInfo | EngineForm): string {
  return engine.kind === 'openai' ? `OpenAI-compatible · ${engine.model}` : 'Built-in answers';
}

export function budgetFields(agent: AgentInfo): BudgetFields {
  return {
    max_tokens: String(agent.budget.max_tokens),
    daily_requests: String(agent.budget.daily_requests),
    daily_tokens: String(agent.budget.daily_tokens),
  };
}

export function agentFields(agent: AgentInfo): AgentFields {
  return {
    name: agent.name,
    greeting: agent.greeting,
    instructions: agent.instructions,
    engine: engineFields(agent.engine),
    budget: budgetFields(agent),
  };
}

function whole(text: string): number {
  return /^\d+$/.test(text.trim()) ? Number(text.trim()) : NaN;
}

/** What `update_agent` takes. The spending limits are sent only when one was changed, so an
 * agent that never had its own keeps following the server's defaults. */
export function agentEdit(fields: AgentFields, agent?: AgentInfo): AgentEdit {
  const budgetChanged =
    agent !== undefined && JSON.stringify(trimmed(fields.budget)) !== JSON.stringify(trimmed(budgetFields(agent)));
  return {
    name: fields.name.trim(),
    greeting: fields.greeting.trim(),
    instructions: fields.instructions.trim(),
    engine: engineForm(fields.engine),
    budget: budgetChanged
      ? {
          max_tokens: whole(fields.budget.max_tokens),
          daily_requests: whole(fields.budget.daily_requests),
          daily_tokens: whole(fields.budget.daily_tokens),
        }
      : null,
  };
}

function trimmed(b: BudgetFields): BudgetFields {
  return { max_tokens: b.max_tokens.trim(), daily_requests: b.daily_requests.trim(), daily_tokens: b.daily_tokens.trim() };
}

/** Whether saving `fields` would change `agent` (the server trims, so whitespace does not count). */
export function agentDirty(agent: AgentInfo, fields: AgentFields): boolean {
  const saved = agentEdit(agentFields(agent), agent);
  const edit = agentEdit(fields, agent);
  return (
    saved.name !== edit.name ||
    saved.greeting !== edit.greeting ||
    saved.instructions !== edit.instructions ||
    JSON.stringify(saved.engine) !== JSON.stringify(edit.engine) ||
    edit.budget !== null
  );
}

/** "12 of 2,000 requests · 3,400 of 2,000,000 tokens today", for a provider agent. */
export function budgetLine(agent: AgentInfo): string {
  const n = (x: number) => x.toLocaleString('en-US');
  const b = agent.budget;
  return `Today (UTC): ${n(b.today_requests)} of ${n(b.daily_requests)} requests · ${n(b.today_tokens)} of ${n(b.daily_tokens)} tokens`;
}

function urlProblem(text: string, what = 'provider'): string | null {
  if (text === '') return `Enter the ${what}’s base URL.`;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return 'Enter a full URL, like https://api.openai.com/v1.';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'The URL must start with http:// or https://.';
  return null;
}

/** The name, greeting and instructions checks, shared by "New agent" and the editor. */
export function textProblems(fields: Pick<AgentFields, 'name' | 'greeting' | 'instructions'>): AgentProblems {
  const problems: AgentProblems = {};
  const name = fields.name.trim();
  if (name === '') problems.name = 'Enter a name.';
  else if (chars(name) > NAME_MAX) problems.name = `Use at most ${NAME_MAX} characters.`;
  if (chars(fields.greeting.trim()) > GREETING_MAX) problems.greeting = `Use at most ${GREETING_MAX} characters.`;
  if (chars(fields.instructions.trim()) > INSTRUCTIONS_MAX) {
    problems.instructions = `Use at most ${INSTRUCTIONS_MAX} characters.`;
  }
  return problems;
}

/** Every problem of the editor's fields, by field; empty when the form can be saved. */
export function agentProblems(fields: AgentFields): AgentProblems {
  const problems = textProblems(fields);
  if (fields.engine.kind === 'openai') {
    const url = urlProblem(fields.engine.base_url.trim());
    if (url) problems.base_url = url;
    const model = fields.engine.model.trim();
    if (model === '') problems.model = 'Enter the model name.';
    else if (chars(model) > MODEL_MAX) problems.model = `Use at most ${MODEL_MAX} characters.`;
    for (const key of Object.keys(BUDGET_MAX) as (keyof BudgetFields)[]) {
      const value = whole(fields.budget[key]);
      if (!(value >= 1 && value <= BUDGET_MAX[key])) {
        problems[key] = `Enter a whole number from 1 to ${BUDGET_MAX[key].toLocaleString('en-US')}.`;
      }
    }
  }
  return problems;
}

/** The "Match by meaning" form: an embeddings server and model. */
export type MeaningFields = { base_url: string; model: string };
export type MeaningProblems = Partial<Record<keyof MeaningFields, string>>;

export function meaningProblems(fields: MeaningFields): MeaningProblems {
  const problems: MeaningProblems = {};
  const url = urlProblem(fields.base_url.trim(), 'embeddings server');
  if (url) problems.base_url = url;
  const model = fields.model.trim();
  if (model === '') problems.model = 'Enter the embedding model’s name, like nomic-embed-text.';
  else if (chars(model) > MODEL_MAX) problems.model = `Use at most ${MODEL_MAX} characters.`;
  return problems;
}

/** Where semantic matching stands, in the owner's words: a one-word badge and a sentence. */
export function meaningState(agent: AgentInfo): { badge: string; text: string; tone: 'off' | 'ok' | 'busy' | 'bad' } {
  const e = agent.embeddings;
  if (!e) return { badge: 'off', text: 'Answers are matched by their words.', tone: 'off' };
  if (e.ready) return { badge: 'on', text: `Questions are matched by meaning too, with ${e.model}.`, tone: 'ok' };
  if (e.problem) {
    return {
      badge: 'not working',
      text: `Answers are matched by their words until this is fixed: ${e.problem}. Save again to retry now.`,
      tone: 'bad',
    };
  }
  return { badge: 'reading your answers…', text: 'Words match until the server has read every answer.', tone: 'busy' };
}

export function hasProblems(problems: AgentProblems): boolean {
  return Object.keys(problems).length > 0;
}

/** A knowledge entry as the commands take it: trimmed, a blank question meaning free text. */
export function knowledgeInput(question: string, answer: string): { question: string | null; answer: string } {
  const q = question.trim();
  return { question: q === '' ? null : q, answer: answer.trim() };
}

export function knowledgeProblem(question: string, answer: string): string | null {
  const entry = knowledgeInput(question, answer);
  if (entry.answer === '') return 'Write the answer.';
  if (chars(entry.answer) > ANSWER_MAX) return `Use at most ${ANSWER_MAX.toLocaleString('en-US')} characters in the answer.`;
  if (entry.question && chars(entry.question) > QUESTION_MAX) return `Use at most ${QUESTION_MAX} characters in the question.`;
  return null;
}

/** A question as one line: runs of whitespace (line breaks too) as one space, trimmed, as the
 * core keeps a learned question. A visitor's message may run over several lines. */
export function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** What is wrong in the form that adds a visitor's question to the answers, and in which field:
 * a new entry (`asNew`) needs its answer; another way of asking an entry keeps that entry's. */
export function learnProblem(
  question: string,
  answer: string,
  asNew: boolean,
): { field: 'question' | 'answer'; message: string } | null {
  const q = oneLine(question);
  if (q === '') return { field: 'question', message: 'Write the question.' };
  if (chars(q) > QUESTION_MAX) return { field: 'question', message: `Use at most ${QUESTION_MAX} characters in the question.` };
  if (!asNew) return null;
  const a = answer.trim();
  if (a === '') return { field: 'answer', message: 'Write the answer.' };
  if (chars(a) > ANSWER_MAX) return { field: 'answer', message: `Use at most ${ANSWER_MAX.toLocaleString('en-US')} characters in the answer.` };
  return null;
}

/** Other phrasings an entry keeps at most (the core's `MAX_PHRASINGS`). */
export const PHRASINGS_MAX = 20;

/** "Also asked as", one per line: trimmed, blanks and repeats (ignoring case) dropped, as the
 * core keeps them. */
export function phrasingsInput(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const p = line.trim();
    if (p !== '' && !out.some((o) => o.toLowerCase() === p.toLowerCase())) out.push(p);
  }
  return out;
}

export function phrasingsProblem(question: string, text: string): string | null {
  const phrasings = phrasingsInput(text);
  if (phrasings.length === 0) return null;
  if (question.trim() === '') return 'Free text has no question to ask another way: write its question first.';
  if (phrasings.length > PHRASINGS_MAX) return `Use at most ${PHRASINGS_MAX} other phrasings.`;
  if (phrasings.some((p) => chars(p) > QUESTION_MAX)) return `Use at most ${QUESTION_MAX} characters in each phrasing.`;
  return null;
}

/** "1 entry", "3 entries". */
export function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}
