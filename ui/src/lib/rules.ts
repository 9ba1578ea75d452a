// Pure helpers behind the agent editor's "Per-suffix overrides": the rule form, its checks and
// how a listed rule reads. Limits mirror the core's (crates/core/src/app/agents.rs).

import type { RouteRuleForm } from '../bindings/RouteRuleForm';
import type { RouteRuleInfo } from '../bindings/RouteRuleInfo';
import { GREETING_MAX, INSTRUCTIONS_MAX } from './agents';
import { optionalText, suffixProblem } from './format';

export type RuleFields = { suffix: string; persona: string; greeting: string };
export type RuleField = keyof RuleFields;
export type RuleProblems = Partial<Record<RuleField, string>>;

export function emptyRule(): RuleFields {
  return { suffix: '', persona: '', greeting: '' };
}

/** The JID a suffix's links have: `web:<slug>/<suffix>`. */
export function ruleJid(slug: string, suffix: string): string {
  return `web:${slug}/${suffix.trim()}`;
}

/** The suffix of a rule the form can edit (`web:<slug>/<suffix>`), or null for the others
 * (a widget or hook JID, or the agent's plain `web:<slug>`), which can only be removed here. */
export function ruleSuffix(jid: string, slug: string): string | null {
  const prefix = `web:${slug}/`;
  if (!jid.startsWith(prefix)) return null;
  const suffix = jid.slice(prefix.length);
  return suffix !== '' && !suffix.includes('/') ? suffix : null;
}

/** The form filled with a listed rule, or null when the form cannot edit it. */
export function ruleFields(rule: RouteRuleInfo, slug: string): RuleFields | null {
  const suffix = ruleSuffix(rule.jid, slug);
  return suffix === null ? null : { suffix, persona: rule.persona ?? '', greeting: rule.greeting ?? '' };
}

/** What `set_route_rule` takes: trimmed, an empty field meaning "the agent's own". */
export function routeRuleForm(fields: RuleFields): RouteRuleForm {
  return {
    suffix: fields.suffix.trim(),
    persona: optionalText(fields.persona),
    greeting: optionalText(fields.greeting),
  };
}

/** Saving both fields empty removes the suffix's rule (the server's rule). */
export function removesRule(fields: RuleFields): boolean {
  const form = routeRuleForm(fields);
  return form.persona === null && form.greeting === null;
}

const chars = (s: string) => [...s].length;

/** Problems by field. Both fields empty removes a rule on the server, so it is accepted only for
 * the JIDs in `removable` (the rule being edited); anywhere else it would be a slip. */
export function ruleProblems(fields: RuleFields, slug: string, removable: readonly string[]): RuleProblems {
  const problems: RuleProblems = {};
  const form = routeRuleForm(fields);
  const suffix = form.suffix === '' ? 'Enter the suffix of the links this is for.' : suffixProblem(form.suffix);
  if (suffix) problems.suffix = suffix;
  if (form.persona && chars(form.persona) > INSTRUCTIONS_MAX) problems.persona = `Use at most ${INSTRUCTIONS_MAX} characters.`;
  if (form.greeting && chars(form.greeting) > GREETING_MAX) problems.greeting = `Use at most ${GREETING_MAX} characters.`;
  if (!suffix && removesRule(fields) && !removable.includes(ruleJid(slug, form.suffix))) {
    problems.persona = 'Write instructions or a greeting (or both) for these links.';
  }
  return problems;
}

/** A listed rule's field as the list shows it. */
export function ruleText(value: string | null): string {
  return value ?? "agent's own";
}
