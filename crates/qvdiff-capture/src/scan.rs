//! The source scanner: finds every `#[derive(Model)]` struct in a file's text and runs the same
//! parser the derive uses.

use crate::{
    parse_enum, parse_model_parts, CapturedEnum, CapturedTable, Diagnostic, EnumFieldSite,
    ScanOutput,
};
use syn::ext::IdentExt;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Attribute, DeriveInput, Item, Path, Token};

/// Parses one source file's text and captures every model in it.
///
/// `file` is only used in locations. Structs are found at the top level and inside inline
/// `mod x { … }` blocks, whatever `#[cfg]` says (the scanner cannot evaluate cfgs). A Rust syntax
/// error is one diagnostic at its location. Diagnostics are sorted by position.
///
/// A file is cut at every top-level item into chunks that are parsed one at a time, on up to
/// [`MAX_THREADS`] threads: syn's tree of a whole 1000-model file is about 80 MB and takes most
/// of a scan's time, a chunk's tree is dropped as soon as its models are captured. The
/// result is the same as parsing the whole file; whenever a chunk does not parse (a syntax error,
/// or a cut the boundary finder got wrong), the whole file is parsed instead, so errors keep their
/// exact wording and position.
pub fn scan_source(file: &str, text: &str) -> ScanOutput {
    scan_source_with(file, text, None)
}

/// What the scanner can remember between runs: the tables captured from a piece of source text
/// (whole top-level items), keyed by exactly that text. With one, [`scan_source_with`] cuts the
/// file at every item, so an edit to one model re-parses that item only (the CLI keeps the memo
/// in its cache directory). Only pieces syn had to parse are given to it: the quick reader reads
/// the others faster than a memo recalls them.
///
/// Tables are exchanged with lines counted from the piece's first line (1) and an empty `file`.
pub trait CaptureMemo: Sync {
    /// The tables `text` captured before, if it is known.
    fn recall(&self, text: &str) -> Option<Vec<CapturedTable>>;
    /// Remembers what `text` captured. Only pieces that captured without any error are given.
    fn remember(&self, text: &str, tables: Vec<CapturedTable>);
}

/// [`scan_source`], reusing (and adding to) `memo` when one is given. The result is the same
/// as without it.
pub fn scan_source_with(file: &str, text: &str, memo: Option<&dyn CaptureMemo>) -> ScanOutput {
    // One top-level item per piece: a memo then finds every unchanged item again whatever was
    // edited elsewhere, and it is also faster than 16 KB pieces were (1000 models: 0.09 s
    // instead of 0.14 s, peak RSS 36 MB instead of 42 MB): syn's buffers stay small.
    let chunks = split_items(text, 1);
    let mut output = if chunks.len() > 1 || memo.is_some() {
        scan_chunks(file, text, &chunks, memo).unwrap_or_else(|| scan_whole(file, text))
    } else {
        scan_whole(file, text)
    };
    output.errors.sort_by_key(|d| (d.line, d.column));
    output
}

/// Parsing threads at most (the scan is CPU-bound; more threads than cores only cost memory).
pub const MAX_THREADS: usize = 4;

fn scan_whole(file: &str, text: &str) -> ScanOutput {
    if let Some(tables) = crate::quick::read_piece(text) {
        return ScanOutput {
            tables: with_file(tables, file),
            ..ScanOutput::default()
        };
    }
    let mut output = ScanOutput::default();
    match syn::parse_file(text) {
        Ok(parsed) => {
            for item in parsed.items {
                scan_item(file, item, &mut output);
            }
        }
        Err(error) => output
            .errors
            .extend(diagnostics(file, &error).into_iter().map(syntax_error)),
    }
    output
}

/// A piece of the file: `text[start..end]`, whose first line is line `first_line` of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Chunk {
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) first_line: usize,
}

/// Parses every chunk (each on its own, on a few threads) and merges the results in file order,
/// with lines moved to the file's numbering. `None` when a chunk has a syntax error.
fn scan_chunks(
    file: &str,
    text: &str,
    chunks: &[Chunk],
    memo: Option<&dyn CaptureMemo>,
) -> Option<ScanOutput> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, MAX_THREADS)
        .min(chunks.len());
    // Contiguous runs of chunks per thread, so merging in thread order keeps the file order.
    let per_thread = chunks.len().div_ceil(threads);
    let parts: Vec<Option<ScanOutput>> = std::thread::scope(|scope| {
        let handles: Vec<_> = chunks
            .chunks(per_thread)
            .map(|run| {
                std::thread::Builder::new()
                    .name("qvdiff-scan".to_string())
                    .spawn_scoped(scope, move || scan_run(file, text, run, memo))
            })
            .collect();
        // A thread that could not start, or a panicking parser (a bug in syn or here), gives
        // `None`: the whole-file path then reports the file as before.
        handles
            .into_iter()
            .map(|h| h.ok().and_then(|h| h.join().ok().flatten()))
            .collect()
    });
    let mut output = ScanOutput::default();
    for part in parts {
        let part = part?;
        output.tables.extend(part.tables);
        output.enums.extend(part.enums);
        output.errors.extend(part.errors);
    }
    Some(output)
}

fn scan_run(
    file: &str,
    text: &str,
    run: &[Chunk],
    memo: Option<&dyn CaptureMemo>,
) -> Option<ScanOutput> {
    let mut output = ScanOutput::default();
    for chunk in run {
        let piece = &text[chunk.start..chunk.end];
        // The quick reader is faster than recalling a piece from the memo, so the memo only
        // keeps the pieces syn had to parse.
        let recalled = || memo.and_then(|m| m.recall(piece));
        let part = match crate::quick::read_piece(piece).or_else(recalled) {
            Some(tables) => ScanOutput {
                tables,
                ..ScanOutput::default()
            },
            None => {
                let part = parse_piece(file, piece)?;
                // Enums, and models with enum fields, are resolved against each other after the
                // scan, so their pieces are always read again.
                let resolved_alone =
                    part.enums.is_empty() && part.tables.iter().all(|t| t.enum_fields.is_empty());
                if let Some(memo) = memo.filter(|_| part.errors.is_empty() && resolved_alone) {
                    let anonymous = part.tables.iter().cloned().map(|mut t| {
                        t.file = String::new();
                        t
                    });
                    memo.remember(piece, anonymous.collect());
                }
                part
            }
        };
        // Spans count lines from the chunk's start; columns are right as they are, since every
        // chunk starts at the beginning of a line.
        let shift = chunk.first_line - 1;
        output
            .tables
            .extend(with_file(part.tables, file).into_iter().map(|mut t| {
                t.line += shift;
                for site in &mut t.enum_fields {
                    site.line += shift;
                    for literal in &mut site.literals {
                        literal.1 += shift;
                    }
                }
                t
            }));
        output.enums.extend(part.enums.into_iter().map(|mut e| {
            e.file = file.to_string();
            e.line += shift;
            e
        }));
        output.errors.extend(part.errors.into_iter().map(|mut d| {
            d.line += shift;
            d
        }));
    }
    Some(output)
}

/// The models of one piece of the file (lines counted from its start), parsed with syn.
/// `None` when syn cannot parse it.
fn parse_piece(file: &str, piece: &str) -> Option<ScanOutput> {
    let parsed = syn::parse_file(piece).ok()?;
    let mut part = ScanOutput::default();
    for item in parsed.items {
        scan_item(file, item, &mut part);
    }
    Some(part)
}

/// Tables captured without a file name (the quick reader's, the memo's) given `file`.
fn with_file(mut tables: Vec<CapturedTable>, file: &str) -> Vec<CapturedTable> {
    for table in &mut tables {
        if table.file.is_empty() {
            table.file = file.to_string();
        }
    }
    tables
}

/// Cuts `text` into chunks of at least `target` bytes, each ending at the end of a line where a
/// top-level item has just ended (a `}` or `;` at brace depth 0, outside strings and comments,
/// followed only by whitespace or a comment on its line). A text it cannot follow (an unclosed
/// delimiter, string or comment) is one chunk: the whole-file parse then reports it.
pub(crate) fn split_items(text: &str, target: usize) -> Vec<Chunk> {
    let whole = vec![Chunk {
        start: 0,
        end: text.len(),
        first_line: 1,
    }];
    if text.len() <= target {
        return whole;
    }
    let bytes = text.as_bytes();
    let mut chunks = Vec::new();
    let (mut chunk_start, mut chunk_line) = (0usize, 1usize);
    let mut line = 1usize;
    let mut depth: i64 = 0;
    // Set after a top-level `}` or `;`: a cut may follow at the end of this line.
    let mut item_ended = false;
    let mut i = 0usize;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'\n' => {
                line += 1;
                i += 1;
                if item_ended && depth == 0 && i - chunk_start >= target {
                    chunks.push(Chunk {
                        start: chunk_start,
                        end: i,
                        first_line: chunk_line,
                    });
                    chunk_start = i;
                    chunk_line = line;
                }
                item_ended = false;
                continue;
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                // A line comment: skip to (not past) the newline.
                i = memchr_newline(bytes, i);
                continue;
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                let Some((end, lines)) = skip_block_comment(bytes, i) else {
                    return whole;
                };
                line += lines;
                i = end;
                continue;
            }
            b'"' => {
                let Some((end, lines)) = skip_string(bytes, i + 1) else {
                    return whole;
                };
                line += lines;
                i = end;
                item_ended = false;
                continue;
            }
            b'r' | b'b' | b'c' if !is_ident_byte(i.checked_sub(1).map(|p| bytes[p])) => {
                if let Some(skipped) = skip_prefixed_string(bytes, i) {
                    let Some((end, lines)) = skipped else {
                        return whole;
                    };
                    line += lines;
                    i = end;
                    item_ended = false;
                    continue;
                }
            }
            b'\'' => {
                // A char literal ('x', '\n', '\u{…}') or a lifetime ('a): only a literal is
                // skipped, since a lifetime has no closing quote.
                if let Some(end) = skip_char_literal(text, i) {
                    i = end;
                    item_ended = false;
                    continue;
                }
            }
            b'{' | b'(' | b'[' => depth += 1,
            b'}' | b')' | b']' => {
                depth -= 1;
                if depth < 0 {
                    return whole;
                }
            }
            _ => {}
        }
        if !b.is_ascii_whitespace() {
            item_ended = depth == 0 && (b == b'}' || b == b';');
        }
        i += 1;
    }
    if depth != 0 {
        return whole;
    }
    if chunk_start < text.len() {
        chunks.push(Chunk {
            start: chunk_start,
            end: text.len(),
            first_line: chunk_line,
        });
    }
    chunks
}

fn is_ident_byte(b: Option<u8>) -> bool {
    b.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80)
}

fn memchr_newline(bytes: &[u8], from: usize) -> usize {
    bytes[from..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(bytes.len(), |p| from + p)
}

/// Skips a (nested) block comment starting at `start` (`/*`); returns the index after it and the
/// newlines inside.
fn skip_block_comment(bytes: &[u8], start: usize) -> Option<(usize, usize)> {
    let (mut i, mut nesting, mut lines) = (start + 2, 1usize, 0usize);
    while i < bytes.len() {
        match (bytes[i], bytes.get(i + 1)) {
            (b'/', Some(b'*')) => {
                nesting += 1;
                i += 2;
            }
            (b'*', Some(b'/')) => {
                nesting -= 1;
                i += 2;
                if nesting == 0 {
                    return Some((i, lines));
                }
            }
            (b'\n', _) => {
                lines += 1;
                i += 1;
            }
            _ => i += 1,
        }
    }
    None
}

/// Skips a `"…"` string body starting after the opening quote (backslash escapes).
fn skip_string(bytes: &[u8], mut i: usize) -> Option<(usize, usize)> {
    let mut lines = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => {
                if bytes.get(i + 1) == Some(&b'\n') {
                    lines += 1;
                }
                i += 2;
            }
            b'"' => return Some((i + 1, lines)),
            b'\n' => {
                lines += 1;
                i += 1;
            }
            _ => i += 1,
        }
    }
    None
}

/// At a `r`, `b`, `br`, `c`, `cr` prefix: `Some(Some(end, lines))` for a string literal that
/// starts here, `Some(None)` for one that never ends, `None` when this is not a string (an
/// identifier such as `r#type` or `bool`).
#[allow(clippy::option_option)]
fn skip_prefixed_string(bytes: &[u8], start: usize) -> Option<Option<(usize, usize)>> {
    let mut i = start;
    if matches!(bytes[i], b'b' | b'c') {
        i += 1;
    }
    let raw = bytes.get(i) == Some(&b'r');
    if raw {
        i += 1;
    }
    if !raw {
        // `b"…"` / `c"…"` (escapes as in a plain string); a plain `r` without `#`/`"` is an
        // identifier.
        return if i > start && bytes.get(i) == Some(&b'"') {
            Some(skip_string(bytes, i + 1))
        } else {
            None
        };
    }
    let mut hashes = 0;
    while bytes.get(i) == Some(&b'#') {
        hashes += 1;
        i += 1;
    }
    if bytes.get(i) != Some(&b'"') {
        return None; // `r#ident`, or an identifier starting with r/br/cr
    }
    i += 1;
    let mut lines = 0;
    while i < bytes.len() {
        if bytes[i] == b'\n' {
            lines += 1;
        }
        if bytes[i] == b'"'
            && bytes.len() >= i + 1 + hashes
            && bytes[i + 1..i + 1 + hashes].iter().all(|&b| b == b'#')
        {
            return Some(Some((i + 1 + hashes, lines)));
        }
        i += 1;
    }
    Some(None)
}

/// At a `'`: the index after a char literal (`'x'`, `'\''`, `'\u{1F600}'`, any one char), or
/// `None` for a lifetime or label (`'a`, `'static`).
fn skip_char_literal(text: &str, start: usize) -> Option<usize> {
    let rest = &text[start + 1..];
    let mut chars = rest.char_indices();
    let (_, first) = chars.next()?;
    if first == '\\' {
        // An escape: the literal ends at the next quote (escapes never contain one unescaped).
        let (_, escaped) = chars.next()?;
        let after = chars.as_str();
        if escaped == '\'' {
            return after
                .starts_with('\'')
                .then(|| text.len() - after.len() + 1);
        }
        let close = after.find('\'')?;
        return Some(text.len() - after.len() + close + 1);
    }
    let (_, second) = chars.next()?;
    (second == '\'').then(|| text.len() - chars.as_str().len())
}

pub(crate) fn scan_item(file: &str, item: Item, output: &mut ScanOutput) {
    let input: DeriveInput = match item {
        Item::Enum(item) if derives(&item.attrs, "Enum") => {
            let input: DeriveInput = item.into();
            match parse_enum(&input) {
                Ok(def) => {
                    let (line, column) = position(input.ident.span());
                    output.enums.push(CapturedEnum {
                        def,
                        file: file.to_string(),
                        line,
                        column,
                    });
                }
                Err(error) => output.errors.extend(diagnostics(file, &error)),
            }
            return;
        }
        Item::Struct(item) if derives_model(&item.attrs) => item.into(),
        Item::Enum(item) if derives_model(&item.attrs) => item.into(),
        Item::Union(item) if derives_model(&item.attrs) => item.into(),
        Item::Mod(module) => {
            for inner in module.content.map(|(_, items)| items).unwrap_or_default() {
                scan_item(file, inner, output);
            }
            return;
        }
        _ => return,
    };
    match parse_model_parts(&input) {
        Ok((table, enum_fields)) => {
            let (line, column) = position(input.ident.span());
            let enum_fields = enum_fields
                .into_iter()
                .map(|field| {
                    let (line, column_number) = position(field.ty.span());
                    EnumFieldSite {
                        column: field.column,
                        rust_type: crate::mapping::type_text(&field.ty),
                        line,
                        column_number,
                        literals: field
                            .literals
                            .into_iter()
                            .map(|(text, span)| {
                                let (line, column) = position(span);
                                (text, line, column)
                            })
                            .collect(),
                    }
                })
                .collect();
            output.tables.push(CapturedTable {
                table,
                struct_name: input.ident.unraw().to_string(),
                file: file.to_string(),
                line,
                column,
                enum_fields,
            });
        }
        Err(error) => output.errors.extend(diagnostics(file, &error)),
    }
}

/// 1-based line and column of a span's start.
fn position(span: proc_macro2::Span) -> (usize, usize) {
    let start = span.start();
    (start.line.max(1), start.column + 1)
}

/// `#[derive(…, Model, …)]` with `Model`, `qvdiff::Model` or `qvdiff_derive::Model`.
fn derives_model(attrs: &[Attribute]) -> bool {
    derives(attrs, "Model")
}

/// `#[derive(…, X, …)]` with `X`, `qvdiff::X` or `qvdiff_derive::X`.
fn derives(attrs: &[Attribute], name: &str) -> bool {
    attrs
        .iter()
        .filter(|attr| attr.path().is_ident("derive"))
        .any(|attr| {
            attr.parse_args_with(Punctuated::<Path, Token![,]>::parse_terminated)
                .map(|paths| paths.iter().any(|path| is_derive_path(path, name)))
                .unwrap_or(false)
        })
}

fn is_derive_path(path: &Path, name: &str) -> bool {
    let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
    match segments.as_slice() {
        [only] => only == name,
        [krate, last] => last == name && (krate == "qvdiff" || krate == "qvdiff_derive"),
        _ => false,
    }
}

/// One diagnostic per message in a (possibly combined) syn error.
/// A file that is not valid Rust: said so, since syn's own text ("expected `,`") does not tell a
/// model error from a syntax error, and its lexer error names no delimiter at all.
fn syntax_error(mut diagnostic: Diagnostic) -> Diagnostic {
    diagnostic.message = if diagnostic.message == "cannot parse string into token stream" {
        "syntax error: an unclosed `{`, `(` or `[`, or an unterminated string or comment, from \
         here on; `cargo check` shows the exact place"
            .to_string()
    } else {
        format!("syntax error: {}", diagnostic.message)
    };
    diagnostic
}

fn diagnostics(file: &str, error: &syn::Error) -> Vec<Diagnostic> {
    error
        .clone()
        .into_iter()
        .map(|part| {
            let start = part.span().start();
            Diagnostic {
                file: file.to_string(),
                line: start.line.max(1),
                column: start.column + 1,
                message: part.to_string(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fmt::Write as _;

    /// A file that exercises what the boundary finder must step over: strings with braces and
    /// quotes, raw strings, byte and char literals, lifetimes, nested comments, inline modules,
    /// a model error, and models whose lines move when the file is cut.
    fn tricky_file(models: usize) -> String {
        let mut text =
            String::from("//! crate docs }\n#![allow(dead_code)]\nuse qvdiff::Model;\n\n");
        for i in 0..models {
            let _ = write!(
                text,
                "/* a {{ nested /* comment }} */ */\n\
                 const S{i}: &str = \"}} ; \\\" {{\";\n\
                 const R{i}: &str = r#\"}}\"; {{\"#;\n\
                 const B{i}: &[u8] = b\"}}\"; const C{i}: char = '}}'; const Q{i}: char = '\\'';\n\
                 fn f{i}<'a>(x: &'a str) -> &'a str {{ let _ = '{{'; x }}\n\
                 mod m{i} {{\n    use super::*;\n    #[derive(Model)]\n    pub struct Inner{i} {{\n        \
                 #[column(primary_key)]\n        pub id: i64,\n    }}\n}}\n\
                 #[derive(Debug, Model)]\n#[model(table = \"t{i}\")]\n\
                 pub struct T{i} {{\n    #[column(primary_key)]\n    pub id: i64,\n    \
                 #[column(max_length = 10)]\n    pub name: String,\n{}}}\n\n",
                if i % 97 == 5 { "    #[column(bogus)]\n    pub bad: i64,\n" } else { "" }
            );
        }
        text
    }

    #[test]
    fn chunked_scan_equals_whole_file_parse() {
        let text = tricky_file(300);
        let chunks = split_items(&text, 4096);
        assert!(
            chunks.len() > 10,
            "the file should be cut: {} chunk(s)",
            chunks.len()
        );
        // Chunks tile the file and start at line starts with the right line numbers.
        assert_eq!(chunks[0].start, 0);
        assert_eq!(chunks.last().map(|c| c.end), Some(text.len()));
        for pair in chunks.windows(2) {
            assert_eq!(pair[0].end, pair[1].start);
            assert_eq!(&text[pair[1].start - 1..pair[1].start], "\n");
            assert_eq!(
                pair[1].first_line,
                text[..pair[1].start].matches('\n').count() + 1
            );
        }
        let chunked = scan_chunks("m.rs", &text, &chunks, None).expect("every chunk parses");
        let mut whole = scan_whole("m.rs", &text);
        let mut chunked_sorted = chunked.clone();
        chunked_sorted.errors.sort_by_key(|d| (d.line, d.column));
        whole.errors.sort_by_key(|d| (d.line, d.column));
        assert_eq!(chunked_sorted, whole);
        assert_eq!(whole.tables.len(), 596); // 4 of the 300 outer models have the bogus attribute
        assert!(
            !whole.errors.is_empty(),
            "the bogus attributes are reported"
        );
    }

    #[test]
    fn a_syntax_error_anywhere_is_reported_as_by_the_whole_file_parse() {
        let mut text = tricky_file(200);
        let middle = text.len() / 2;
        let at = middle + text[middle..].find("fn f").expect("a function");
        text.insert_str(at, "fn broken( {}\n");
        let scanned = scan_source("m.rs", &text);
        let mut whole = scan_whole("m.rs", &text);
        whole.errors.sort_by_key(|d| (d.line, d.column));
        assert_eq!(scanned, whole);
        assert!(scanned.errors[0].message.starts_with("syntax error"));
    }

    /// A memo in memory that counts what it is asked.
    #[derive(Default)]
    struct CountingMemo {
        pieces: std::sync::Mutex<std::collections::HashMap<String, Vec<CapturedTable>>>,
        parsed: std::sync::atomic::AtomicUsize,
    }

    impl CaptureMemo for CountingMemo {
        fn recall(&self, text: &str) -> Option<Vec<CapturedTable>> {
            self.pieces.lock().unwrap().get(text).cloned()
        }

        fn remember(&self, text: &str, tables: Vec<CapturedTable>) {
            self.parsed
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.pieces.lock().unwrap().insert(text.to_string(), tables);
        }
    }

    #[test]
    fn a_memo_gives_the_same_result_and_reparses_only_edited_items() {
        let text = tricky_file(120);
        let mut plain = scan_source("m.rs", &text);
        plain.errors.sort_by_key(|d| (d.line, d.column));
        let memo = CountingMemo::default();
        let first = scan_source_with("m.rs", &text, Some(&memo));
        assert_eq!(first, plain);
        let parsed_once = memo.parsed.load(std::sync::atomic::Ordering::Relaxed);
        assert!(parsed_once > 120, "one piece per item: {parsed_once}");

        // Nothing changed: everything is recalled, with the same file and lines.
        let again = scan_source_with("other.rs", &text, Some(&memo));
        assert_eq!(
            memo.parsed.load(std::sync::atomic::Ordering::Relaxed),
            parsed_once
        );
        assert_eq!(again, scan_source("other.rs", &text));

        // A field added after the key of model `name`, scanned with the memo: the same result
        // as without it.
        let edit = |name: &str, field: &str| {
            let at = text
                .find(&format!("pub struct {name} {{"))
                .expect("the model");
            let at =
                at + text[at..].find("pub id: i64,\n").expect("its key") + "pub id: i64,\n".len();
            let mut edited = text.clone();
            edited.insert_str(at, field);
            let after = scan_source_with("m.rs", &edited, Some(&memo));
            assert_eq!(after, scan_source("m.rs", &edited));
            after
        };
        let parsed = || memo.parsed.load(std::sync::atomic::Ordering::Relaxed);

        // One field added to a model in a module (an item syn parses) in the middle: that item
        // alone is parsed again, and the models after it move down a line.
        let after = edit("Inner60", "        pub extra: Option<String>,\n");
        assert_eq!(parsed(), parsed_once + 1);
        let t60 = |scan: &ScanOutput| {
            scan.tables
                .iter()
                .find(|t| t.table.name == "t60")
                .expect("t60")
                .line
        };
        assert_eq!(t60(&after), t60(&plain) + 1);

        // A model the quick reader reads is never given to the memo, edited or not.
        edit("T70", "    pub extra: Option<String>,\n");
        assert_eq!(parsed(), parsed_once + 1);
        assert!(!memo
            .pieces
            .lock()
            .unwrap()
            .keys()
            .any(|piece| piece.contains("pub struct T7")));
    }

    #[test]
    fn unbalanced_or_unterminated_text_is_one_chunk() {
        let big = "struct A;\n".repeat(1000);
        for tail in [
            "fn f() {",
            "const S: &str = \"",
            "/* open",
            "const R: &str = r#\"x\"",
        ] {
            let text = format!("{big}{tail}\n{big}");
            assert_eq!(split_items(&text, 1024).len(), 1, "{tail}");
        }
        assert!(split_items(&big, 1024).len() > 1);
    }

    #[test]
    fn char_literals_and_lifetimes() {
        let t = "'a' 'b 'static '\\n' '\\'' '\\u{1F600}' 'é'";
        assert_eq!(skip_char_literal(t, 0), Some(3));
        assert_eq!(skip_char_literal(t, 4), None);
        assert_eq!(skip_char_literal(t, 7), None);
        assert_eq!(skip_char_literal(t, 15), Some(19));
        assert_eq!(skip_char_literal(t, 20), Some(24));
        assert_eq!(skip_char_literal(t, 25), Some(36));
        assert_eq!(skip_char_literal(t, 37), Some(37 + 'é'.len_utf8() + 2));
    }
}
