//! Error collection: every problem in a model is reported, not just the first one.

use proc_macro2::Span;
use quote::ToTokens;
use std::fmt::Display;

/// Collects errors while a model is parsed; [`Errors::finish`] combines them into one
/// `syn::Error` whose parts each keep their own span.
#[derive(Default)]
pub(crate) struct Errors {
    list: Vec<syn::Error>,
    /// An unknown attribute key was seen. Its intent is unknown (a misspelt `primary_key`?), so
    /// errors that it may cause, like a missing primary key, are not reported on top of it.
    pub(crate) unknown_key_seen: bool,
}

impl Errors {
    /// Records an error at `span`.
    pub(crate) fn at(&mut self, span: Span, message: impl Display) {
        self.list.push(syn::Error::new(span, message));
    }

    /// Records an error covering all of `tokens`.
    pub(crate) fn spanned(&mut self, tokens: &dyn ToTokens, message: impl Display) {
        self.list.push(syn::Error::new_spanned(tokens, message));
    }

    /// Records an error that syn already built (e.g. a syntax error inside an attribute).
    pub(crate) fn push(&mut self, error: syn::Error) {
        self.list.push(error);
    }

    /// All errors combined, or `Ok` when there were none.
    pub(crate) fn finish(self) -> Result<(), syn::Error> {
        let mut iter = self.list.into_iter();
        match iter.next() {
            None => Ok(()),
            Some(mut first) => {
                for next in iter {
                    first.combine(next);
                }
                Err(first)
            }
        }
    }
}

/// The candidate closest to `word` by edit distance, when it is close enough to be a likely typo.
pub(crate) fn closest<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(2);
    candidates
        .into_iter()
        .map(|candidate| (edit_distance(word, candidate), candidate))
        .filter(|(distance, _)| *distance <= limit)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// Levenshtein distance over chars.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        current[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_words_only() {
        let keys = ["primary_key", "unique", "index", "references"];
        assert_eq!(closest("primray_key", keys), Some("primary_key"));
        assert_eq!(closest("uniqe", keys), Some("unique"));
        assert_eq!(closest("refrences", keys), Some("references"));
        assert_eq!(closest("colour", keys), None);
    }

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }
}
