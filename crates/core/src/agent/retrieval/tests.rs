//! The index's tests, and the bakery the answers engine's tests share.

use super::*;

fn qa(id: i64, question: &str, answer: &str) -> Knowledge {
    Knowledge {
        id,
        question: Some(question.into()),
        answer: answer.into(),
        ..Knowledge::default()
    }
}

/// A fictional shop's folder, shared with the answers engine's tests.
pub(crate) fn bakery() -> Vec<Knowledge> {
    vec![
        qa(
            1,
            "What are your opening hours?",
            "We're open Monday to Saturday from 7am to 6pm, and on Sunday from 8am to 2pm.",
        ),
        qa(
            2,
            "Where are you located?",
            "You'll find Rosie's Bakery at 14 Mill Lane, Brookfield, across from the post \
             office. There's free parking behind the shop.",
        ),
        qa(
            3,
            "What's on the menu?",
            "Every day we bake butter croissants, pain au chocolat, sourdough loaves, rye \
             bread, cinnamon buns and a rotating selection of cakes.",
        ),
        qa(
            4,
            "Can I order a custom cake?",
            "Yes! Cakes for birthdays, weddings and other celebrations can be ordered with at \
             least 48 hours' notice, in the shop or by phone on 555-0142.",
        ),
        qa(
            5,
            "Do you have gluten-free options?",
            "We offer gluten-free brownies every day and a gluten-free loaf on Fridays. Our \
             kitchen also handles wheat, so we can't rule out traces.",
        ),
        qa(
            6,
            "Do you deliver?",
            "We deliver within 5 km of the shop on orders over $30, Tuesday to Saturday. \
             Delivery costs $4.",
        ),
        Knowledge {
            id: 7,
            question: None,
            answer: "Rosie's Bakery was founded in 1998 by Rosie Alvarez, who started out \
                     selling bread from her kitchen window.\n\n\
                     Our sourdough starter is older than the shop. Each loaf is made with \
                     organic flour from Hollow Mill and fermented for 36 hours.\n\n\
                     We compost all our leftovers and give unsold bread to the Brookfield \
                     food bank every evening."
                .into(),
            ..Knowledge::default()
        },
    ]
}

fn top(index: &Index, query: &str) -> Option<i64> {
    let hit = index.search(query, 1).into_iter().next()?;
    Some(bakery()[hit.index].id)
}

fn decision(index: &Index, query: &str) -> Decision {
    index.decide(&index.rank(query, 10))
}

#[test]
fn ranks_the_right_entry_for_paraphrases() {
    let index = Index::new(&bakery(), Lang::En);
    for (query, id) in [
        ("when are you open on sunday?", 1),
        ("what time do you shut on fridays", 1),
        ("where is the shop", 2),
        ("do you sell croissants", 3),
        ("can I order a birthday cake", 4),
        ("anything without gluten?", 5),
        ("how much is delivery", 6),
        ("do you deliver to my street", 6),
        ("is your sourdough organic?", 7),
    ] {
        assert_eq!(top(&index, query), Some(id), "{query}");
    }
}

#[test]
fn confident_matches_answer_and_unrelated_ones_hand_off() {
    let index = Index::new(&bakery(), Lang::En);
    assert_eq!(
        decision(&index, "When are you open on Sunday?"),
        Decision::Answer(0)
    );
    assert_eq!(decision(&index, "do you deliver?"), Decision::Answer(5));
    for query in [
        "what is the capital of France",
        "asdf qwerty",
        "do you sell wedding dresses",
        "can you fix my bicycle?",
        "",
        "???",
    ] {
        assert_eq!(decision(&index, query), Decision::Handoff, "{query}");
    }
}

#[test]
fn a_lone_candidate_is_answered_unless_the_message_asks_what_nothing_covers() {
    let index = Index::new(&bakery(), Lang::En);
    // Only the directions mention parking, and nothing else fits.
    let ranked = index.rank("is there parking near you?", 10);
    assert_eq!(ranked.unknown, 0.0);
    assert_eq!(index.decide(&ranked), Decision::Answer(1));
    // "flowers" is in no entry: that is what is asked, and delivery is neither its answer nor
    // a choice to offer.
    let ranked = index.rank("do you deliver flowers?", 10);
    assert!(ranked.unknown >= UNCOVERED, "{ranked:?}");
    assert_eq!(index.decide(&ranked), Decision::Handoff);
}

#[test]
fn unknown_words_are_counted_in_the_language_of_the_best_entry() {
    let mut kb = bakery();
    kb.push(Knowledge {
        id: 20,
        question: Some("Wann habt ihr geöffnet?".into()),
        answer: "Montag bis Samstag von 7 bis 18 Uhr.".into(),
        lang: Some(Lang::De),
        ..Knowledge::default()
    });
    let index = Index::new(&kb, Lang::En);
    // Not sure of its language, so both parts are searched; every word is German-unknown.
    let ranked = index.rank("croissants?", 10);
    assert_eq!(ranked.detected, None);
    assert_eq!(ranked.hits[0].index, 2);
    assert_eq!(ranked.unknown, 0.0, "{ranked:?}");
}

#[test]
fn another_form_of_a_word_differs_by_a_suffix_not_a_word() {
    let kb = [
        qa(1, "Do you rent bikes?", "City bikes are $20 a day."),
        qa(
            2,
            "Do you work on e-bikes?",
            "Yes, including motor diagnostics.",
        ),
    ];
    let index = Index::new(&kb, Lang::En);
    assert_eq!(index.search("rentals?", 1)[0].index, 0);
    // "motorbikes" is not another form of "motor".
    let ranked = index.rank("do you fix motorbikes", 3);
    assert_eq!(ranked.unknown, 1.0, "{ranked:?}");
    assert_eq!(index.decide(&ranked), Decision::Handoff);
}

#[test]
fn typos_are_read_as_the_words_meant() {
    let index = Index::new(&bakery(), Lang::En);
    assert_eq!(top(&index, "deliverry?"), Some(6));
    assert_eq!(top(&index, "crossiants"), Some(3));
    assert_eq!(top(&index, "glutenfree stuff?"), Some(5));
}

#[test]
fn alternative_phrasings_match_like_the_question() {
    let mut kb = bakery();
    let query = "is there somewhere to leave the car";
    assert_ne!(top(&Index::new(&kb, Lang::En), query), Some(2));
    kb[1].phrasings = vec![
        "Is there parking nearby?".into(),
        "Where can I leave the car?".into(),
    ];
    assert_eq!(top(&Index::new(&kb, Lang::En), query), Some(2));
}

#[test]
fn each_language_is_matched_with_its_own_words_and_never_across() {
    let mut kb = bakery();
    kb.push(Knowledge {
        id: 20,
        question: Some("Wann habt ihr geöffnet?".into()),
        answer: "Montag bis Samstag von 7 bis 18 Uhr, sonntags von 8 bis 14 Uhr.".into(),
        lang: Some(Lang::De),
        ..Knowledge::default()
    });
    let index = Index::new(&kb, Lang::En);
    assert_eq!(index.languages(), [Lang::En, Lang::De]);
    let ranked = index.rank("Habt ihr am Sonntag offen?", 3);
    assert_eq!(ranked.detected, Some(Lang::De));
    assert_eq!(ranked.hits[0].index, 7, "the German entry");
    assert_eq!(index.language_of(7), Some(Lang::De));
    // French: the knowledge has none, so nothing is searched.
    let ranked = index.rank("Vous êtes ouverts le dimanche ?", 3);
    assert!(ranked.foreign && ranked.hits.is_empty(), "{ranked:?}");
    assert_eq!(index.decide(&ranked), Decision::Handoff);
}

#[test]
fn an_entry_without_a_language_is_read_as_the_one_it_is_written_in() {
    let kb = [Knowledge {
        id: 1,
        question: Some("Wo finde ich euch?".into()),
        answer: "In der Mühlengasse 14, gegenüber der Post.".into(),
        ..Knowledge::default()
    }];
    assert_eq!(Index::new(&kb, Lang::En).languages(), [Lang::De]);
}

#[test]
fn close_calls_offer_choices() {
    let cake = |id, q: &str, a: &str| Knowledge {
        id,
        question: Some(q.into()),
        answer: a.into(),
        ..Knowledge::default()
    };
    let kb = [
        cake(1, "How much is a birthday cake?", "From $25."),
        cake(2, "How much is a wedding cake?", "From $120."),
    ];
    let index = Index::new(&kb, Lang::En);
    assert_eq!(
        decision(&index, "how much is a cake"),
        Decision::Clarify(vec![0, 1])
    );
    assert_eq!(
        decision(&index, "how much is a wedding cake"),
        Decision::Answer(1)
    );
}

#[test]
fn confidence_stays_between_zero_and_one() {
    let index = Index::new(&bakery(), Lang::En);
    for query in [
        "croissants croissants croissants",
        "opening hours of the shop in Brookfield on Sunday",
        "cake cake gluten delivery card",
    ] {
        for hit in index.search(query, 10) {
            assert!((0.0..=1.0).contains(&hit.confidence), "{query}: {hit:?}");
        }
    }
}

#[test]
fn odd_input_and_odd_knowledge_do_not_panic() {
    let odd = |id, q: Option<&str>, a: &str| Knowledge {
        id,
        question: q.map(Into::into),
        answer: a.into(),
        ..Knowledge::default()
    };
    let odd_kb = [odd(1, Some("???"), "!!!"), odd(2, None, "パン屋はどこ 🥐")];
    for kb in [&bakery()[..], &odd_kb[..], &[]] {
        let index = Index::new(kb, Lang::En);
        for text in [
            "İSTANBUL's",
            "ß",
            "e\u{301}",
            "\u{0}’s’",
            "ﬁ",
            "'''",
            "s's",
            "",
            "🥐",
        ] {
            let ranked = index.rank(text, 3);
            let _ = index.decide(&ranked);
            let _ = index.overlap(0, text, text);
        }
    }
}
