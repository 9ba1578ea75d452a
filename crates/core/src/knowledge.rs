//! Knowledge entries from the owner: the rules an entry must meet, and importing a Markdown or CSV
//! file of questions and answers.
//!
//! Markdown: every heading (`#`, `##`, …) is a question and the text under it, up to the next
//! heading, its answer; paragraphs before the first heading become free-text entries.
//! CSV: two columns, question and answer (an optional `question,answer` header row); an empty
//! question makes a free-text entry. A file with one bad entry imports nothing, and the error
//! names the line.

use crate::error::{Error, Result};

pub const MAX_QUESTION_CHARS: usize = 500;
pub const MAX_ANSWER_CHARS: usize = 20_000;
pub const MAX_IMPORT_ENTRIES: usize = 10_000;

/// A question (None for free text) and its answer.
pub type Entry = (Option<String>, String);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Markdown,
    Csv,
}

impl Format {
    /// The format a file name implies: `.csv` is CSV, `.md`/`.markdown`/`.txt` Markdown.
    pub fn from_file_name(name: &str) -> Result<Format> {
        let lower = name.to_ascii_lowercase();
        if lower.ends_with(".csv") {
            Ok(Format::Csv)
        } else if [".md", ".markdown", ".txt"]
            .iter()
            .any(|e| lower.ends_with(e))
        {
            Ok(Format::Markdown)
        } else {
            Err(Error::invalid(format!(
                "cannot tell the format of {name:?}: use a .md (Markdown) or .csv file"
            )))
        }
    }
}

/// Checks and tidies one entry (trims; an empty question means free text).
pub fn entry(question: Option<&str>, answer: &str) -> Result<Entry> {
    let question = question.map(str::trim).filter(|q| !q.is_empty());
    let answer = answer.trim();
    if answer.is_empty() {
        return Err(Error::invalid("the answer is empty"));
    }
    if answer.chars().count() > MAX_ANSWER_CHARS {
        return Err(Error::invalid(format!(
            "the answer is longer than {MAX_ANSWER_CHARS} characters"
        )));
    }
    if let Some(q) = question
        && q.chars().count() > MAX_QUESTION_CHARS
    {
        return Err(Error::invalid(format!(
            "the question is longer than {MAX_QUESTION_CHARS} characters"
        )));
    }
    Ok((question.map(str::to_owned), answer.to_owned()))
}

pub fn parse(text: &str, format: Format) -> Result<Vec<Entry>> {
    let entries = match format {
        Format::Markdown => parse_markdown(text)?,
        Format::Csv => parse_csv(text)?,
    };
    if entries.is_empty() {
        return Err(Error::invalid("the file holds no questions or answers"));
    }
    if entries.len() > MAX_IMPORT_ENTRIES {
        return Err(Error::invalid(format!(
            "the file holds more than {MAX_IMPORT_ENTRIES} entries"
        )));
    }
    Ok(entries)
}

fn at_line(line: usize, e: Error) -> Error {
    Error::invalid(format!("line {line}: {e}"))
}

fn parse_markdown(text: &str) -> Result<Vec<Entry>> {
    let mut out = Vec::new();
    // (question, its line, the lines of its answer)
    let mut current: Option<(String, usize, Vec<&str>)> = None;
    let mut preamble: Vec<&str> = Vec::new();
    let mut preamble_line = 1;

    let flush_paragraph =
        |lines: &mut Vec<&str>, line: usize, out: &mut Vec<Entry>| -> Result<()> {
            let para = lines.join("\n");
            lines.clear();
            if !para.trim().is_empty() {
                out.push(entry(None, &para).map_err(|e| at_line(line, e))?);
            }
            Ok(())
        };

    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let trimmed = line.trim_start();
        let heading = trimmed
            .strip_prefix('#')
            .map(|rest| rest.trim_start_matches('#'));
        match heading {
            Some(rest) if rest.is_empty() || rest.starts_with(' ') => {
                flush_paragraph(&mut preamble, preamble_line, &mut out)?;
                if let Some((q, qline, body)) = current.take() {
                    out.push(entry(Some(&q), &body.join("\n")).map_err(|e| at_line(qline, e))?);
                }
                current = Some((
                    rest.trim().trim_end_matches('#').trim().to_owned(),
                    n,
                    Vec::new(),
                ));
            }
            _ => match &mut current {
                Some((_, _, body)) => body.push(line),
                None if line.trim().is_empty() => {
                    flush_paragraph(&mut preamble, preamble_line, &mut out)?;
                    preamble_line = n + 1;
                }
                None => preamble.push(line),
            },
        }
    }
    flush_paragraph(&mut preamble, preamble_line, &mut out)?;
    if let Some((q, qline, body)) = current {
        out.push(entry(Some(&q), &body.join("\n")).map_err(|e| at_line(qline, e))?);
    }
    Ok(out)
}

fn parse_csv(text: &str) -> Result<Vec<Entry>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut out = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| Error::invalid(format!("not valid CSV: {e}")))?;
        let line = record
            .position()
            .map(|p| p.line() as usize)
            .unwrap_or(i + 1);
        let cols: Vec<&str> = record.iter().collect();
        if i == 0
            && cols.len() == 2
            && cols[0].trim().eq_ignore_ascii_case("question")
            && cols[1].trim().eq_ignore_ascii_case("answer")
        {
            continue;
        }
        match cols.as_slice() {
            [] => {}
            [one] if one.trim().is_empty() => {}
            [q, a] => out.push(entry(Some(q), a).map_err(|e| at_line(line, e))?),
            _ => {
                return Err(Error::invalid(format!(
                    "line {line}: expected 2 columns (question, answer), found {}",
                    cols.len()
                )));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_headings_are_questions_and_loose_paragraphs_free_text() {
        let md = "We bake every day.\n\nFounded 1998.\n\n## When are you open?\n\n9 to 5.\nClosed Mondays.\n\n### Do you deliver? ###\nYes.\n";
        let got = parse(md, Format::Markdown).expect("parse");
        assert_eq!(
            got,
            vec![
                (None, "We bake every day.".into()),
                (None, "Founded 1998.".into()),
                (
                    Some("When are you open?".into()),
                    "9 to 5.\nClosed Mondays.".into()
                ),
                (Some("Do you deliver?".into()), "Yes.".into()),
            ]
        );
    }

    #[test]
    fn a_heading_without_answer_names_its_line() {
        let err = parse("# Q1\nA1\n# Q2\n\n", Format::Markdown).expect_err("empty answer");
        assert!(err.to_string().contains("line 3"), "{err}");
    }

    #[test]
    fn csv_with_header_quotes_and_free_text() {
        let csv =
            "question,answer\n\"Hours, please?\",\"9 to 5, \"\"sharp\"\"\"\n,Free text here\n";
        let got = parse(csv, Format::Csv).expect("parse");
        assert_eq!(
            got,
            vec![
                (Some("Hours, please?".into()), "9 to 5, \"sharp\"".into()),
                (None, "Free text here".into())
            ]
        );
        let err = parse("a,b,c\n", Format::Csv).expect_err("3 columns");
        assert!(err.to_string().contains("line 1"), "{err}");
        assert!(parse("q,\n", Format::Csv).is_err(), "empty answer");
        assert!(parse("", Format::Csv).is_err(), "empty file");
    }

    #[test]
    fn formats_from_names_and_limits() {
        assert_eq!(
            Format::from_file_name("faq.MD").expect("md"),
            Format::Markdown
        );
        assert_eq!(Format::from_file_name("faq.csv").expect("csv"), Format::Csv);
        assert!(Format::from_file_name("faq.pdf").is_err());
        assert!(entry(Some(&"q".repeat(501)), "a").is_err());
        assert!(entry(None, &"a".repeat(20_001)).is_err());
    }

    proptest::proptest! {
        /// Any file, Markdown or CSV, gives entries within the bounds or a clear error.
        #[test]
        fn any_import_gives_bounded_entries_or_a_clear_error(text in "(\\PC|\n|#|,|\"){0,600}", csv in proptest::prelude::any::<bool>()) {
            let format = if csv { Format::Csv } else { Format::Markdown };
            match parse(&text, format) {
                Ok(entries) => {
                    for (q, a) in entries {
                        proptest::prop_assert!(!a.trim().is_empty());
                        proptest::prop_assert!(a.chars().count() <= MAX_ANSWER_CHARS);
                        proptest::prop_assert!(q.is_none_or(|q| !q.is_empty() && q.chars().count() <= MAX_QUESTION_CHARS));
                    }
                }
                Err(e) => proptest::prop_assert_eq!(e.code(), "invalid_input"),
            }
        }
    }
}
