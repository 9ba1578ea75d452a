// Pure helpers behind the agent editor's "Try it" box.

import type { TestAnswer } from '../bindings/TestAnswer';
import { optionalText, suffixProblem } from './format';

/** The core's limit on a visitor's message (crates/core/src/app/limits.rs). */
export const QUESTION_MAX = 4000;

export function questionProblem(question: string): string | null {
  const t = question.trim();
  if (t === '') return 'Write a question, as a visitor would.';
  if ([...t].length > QUESTION_MAX) return `Use at most ${QUESTION_MAX} characters.`;
  return null;
}

/** The optional suffix, checked like a link's: null when blank. */
export function testSuffix(text: string): { suffix: string | null } | { problem: string } {
  const suffix = optionalText(text);
  if (suffix === null) return { suffix: null };
  const problem = suffixProblem(suffix);
  return problem ? { problem } : { suffix };
}

/** The plain note under an answer that is not a normal reply. */
export const OUTCOME_NOTES: Record<TestAnswer['outcome'], string | null> = {
  ok: null,
  handoff: 'The agent would pass this visitor to you.',
  error:
    'The agent could not answer; a visitor would see the message above. Check the engine, its model and the API key.',
};
