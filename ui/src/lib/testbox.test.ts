import { describe, expect, it } from 'vitest';

import { OUTCOME_NOTES, questionProblem, testSuffix } from './testbox';

describe('questionProblem', () => {
  it('wants some text, up to the visitor limit', () => {
    expect(questionProblem('When are you open?')).toBeNull();
    expect(questionProblem('  \n ')).toBe('Write a question, as a visitor would.');
    expect(questionProblem('x'.repeat(4000))).toBeNull();
    expect(questionProblem(` ${'x'.repeat(4000)} `)).toBeNull();
    expect(questionProblem('x'.repeat(4001))).toBe('Use at most 4000 characters.');
  });
});

describe('testSuffix', () => {
  it('is null when blank and checked like a link suffix otherwise', () => {
    expect(testSuffix('')).toEqual({ suffix: null });
    expect(testSuffix('  ')).toEqual({ suffix: null });
    expect(testSuffix(' flyer ')).toEqual({ suffix: 'flyer' });
    expect(testSuffix('Flyer')).toEqual({ problem: 'Use only lowercase letters, digits, - and _.' });
    expect(testSuffix('x'.repeat(41))).toEqual({ problem: 'Use at most 40 characters.' });
  });
});

describe('OUTCOME_NOTES', () => {
  it('explains a handoff and an error, not a normal answer', () => {
    expect(OUTCOME_NOTES.ok).toBeNull();
    expect(OUTCOME_NOTES.handoff).toBe('The agent would pass this visitor to you.');
    expect(OUTCOME_NOTES.error).toMatch(/could not answer/);
  });
});
