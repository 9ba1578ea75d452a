//! The first-run demo: a fictional bakery's agent, so a fresh install answers questions at once.

use crate::knowledge::Entry;

pub const SLUG: &str = "demo";
pub const NAME: &str = "Rosie's Bakery";
pub const GREETING: &str = "Hi! I'm the assistant at Rosie's Bakery. Ask me about our opening hours, where we are, the menu or ordering a cake.";
pub const INSTRUCTIONS: &str =
    "You answer visitors' questions for Rosie's Bakery, a neighbourhood bakery. Be warm and brief.";

pub fn knowledge() -> Vec<Entry> {
    let qa = |q: &str, a: &str| (Some(q.to_owned()), a.to_owned());
    vec![
        qa(
            "What are your opening hours?",
            "We're open Monday to Saturday from 7am to 6pm, and on Sunday from 8am to 2pm.",
        ),
        qa(
            "Where are you located?",
            "You'll find Rosie's Bakery at 14 Mill Lane, Brookfield, across from the post office. There's free parking behind the shop.",
        ),
        qa(
            "What's on the menu?",
            "Every day we bake butter croissants, pain au chocolat, sourdough loaves, rye bread, cinnamon buns and a rotating selection of cakes.",
        ),
        qa(
            "How do I order a custom cake?",
            "Cakes for birthdays, weddings and other celebrations can be ordered with at least 48 hours' notice, in the shop or by phone on 555-0142.",
        ),
        qa(
            "Do you have gluten-free options?",
            "We offer gluten-free brownies every day and a gluten-free loaf on Fridays. Our kitchen also handles wheat, so we can't rule out traces.",
        ),
        qa(
            "Do you deliver?",
            "We deliver within 5 km of the shop on orders over $30, Tuesday to Saturday. Delivery costs $4.",
        ),
        qa(
            "Can I pay by card?",
            "Yes, we take all major cards, contactless payments and cash.",
        ),
        qa(
            "How can I contact you?",
            "Call us on 555-0142 while we're open, or write to hello@rosies-bakery.example and we'll answer within a day.",
        ),
        (
            None,
            "Rosie's Bakery was founded in 1998 by Rosie Alvarez, who started out selling bread from her kitchen window. \
             Our sourdough is made with organic flour from Hollow Mill and fermented for 36 hours."
                .to_owned(),
        ),
    ]
}

#[cfg(test)]
mod tests {
    /// `eval/knowledge/bakery.json` measures the demo: it must be the demo, entry for entry.
    #[test]
    fn the_eval_sets_bakery_is_the_demo() {
        let eval: serde_json::Value =
            serde_json::from_str(include_str!("../../../eval/knowledge/bakery.json"))
                .expect("eval/knowledge/bakery.json is JSON");
        assert_eq!(eval["name"], super::NAME);
        let entries: Vec<(Option<String>, String)> = eval["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .map(|e| {
                (
                    e["question"].as_str().map(str::to_owned),
                    e["answer"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        assert_eq!(entries, super::knowledge());
    }
}
