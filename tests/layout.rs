//! The layout's promises (README, "Layout"; issue 12), checked on the source as it is: no
//! module imports a module that imports it, no function outside tests is over 80 lines, and
//! every command file is thin (under 250 lines, its unit tests included). Hermetic: it reads
//! only `src/`, so a plain `cargo test` runs it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const SRC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src");

/// Every `.rs` file under `src/` with its module path (`binfmt::line`; `mod.rs` is its folder).
fn modules() -> BTreeMap<String, PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(Path::new(SRC), &mut files);
    files
        .into_iter()
        .filter_map(|p| {
            let rel = p.strip_prefix(SRC).unwrap().with_extension("");
            let mut parts: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if parts.last().is_some_and(|l| l == "mod") {
                parts.pop();
            }
            let name = parts.join("::");
            (name != "lib" && name != "main").then_some((name, p))
        })
        .collect()
}

/// The file's text without what is compiled for tests only: the item after every
/// `#[cfg(test)]` (an inline `mod tests { ... }` to its matching brace, `mod readback;` to its
/// semicolon), wherever it stands; the rest of the file is read on.
fn without_tests(text: &str) -> String {
    const MARK: &str = "#[cfg(test)]";
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find(MARK) {
        out.push_str(&rest[..i]);
        let item = &rest[i + MARK.len()..];
        let end = match (item.find(';'), item.find('{')) {
            (Some(semi), Some(brace)) if semi < brace => semi + 1,
            (_, Some(brace)) => matching_brace(item, brace) + 1,
            (Some(semi), None) => semi + 1,
            (None, None) => item.len(),
        };
        rest = &item[end.min(item.len())..];
    }
    out.push_str(rest);
    out
}

/// Where the brace opened at `open` closes, skipping braces in string and char literals
/// (`"{x}"`, `r#"{"#`, `'{'`); the text's end when it does not.
fn matching_brace(text: &str, open: usize) -> usize {
    let b = text.as_bytes();
    let (mut depth, mut i) = (0usize, open);
    while i < b.len() {
        match b[i] {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return i;
                }
            }
            b'r' if b.get(i + 1).is_some_and(|&c| c == b'"' || c == b'#')
                && (i == 0 || !ident_char(char::from(b[i - 1]))) =>
            {
                let hashes = b[i + 1..].iter().take_while(|&&c| c == b'#').count();
                if b.get(i + 1 + hashes) == Some(&b'"') {
                    let close = format!("\"{}", "#".repeat(hashes));
                    let from = i + 2 + hashes;
                    i = text[from..]
                        .find(&close)
                        .map_or(b.len(), |k| from + k + close.len());
                    continue;
                }
            }
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'\'' if b.get(i + 2) == Some(&b'\'') => i += 2,
            _ => {}
        }
        i += 1;
    }
    b.len()
}

fn ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The paths `prefix::a::b` names in `text`, use groups (`prefix::a::{b, c::{d, e}}`) spread
/// out.
fn paths_after(text: &str, prefix: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(i) = text[at..].find(prefix) {
        let start = at + i;
        at = start + prefix.len();
        if text[..start]
            .chars()
            .next_back()
            .is_some_and(|c| ident_char(c) || c == ':')
        {
            continue;
        }
        use_tree(&text[at..], "", &mut out);
    }
    out
}

/// One use tree at the start of `text` (a path, or a path ending in a `{...}` group), each of
/// its paths pushed with `head` before it; how much of `text` it took.
fn use_tree(text: &str, head: &str, out: &mut Vec<String>) -> usize {
    let end = text
        .find(|c: char| !(ident_char(c) || c == ':'))
        .unwrap_or(text.len());
    let path = format!("{head}{}", &text[..end]);
    let Some(group) = text[end..].strip_prefix('{') else {
        out.push(path.trim_end_matches(':').to_owned());
        return end;
    };
    let mut at = 0;
    loop {
        let rest = &group[at..];
        let skip = rest.len() - rest.trim_start_matches([' ', '\n', ',']).len();
        at += skip;
        let rest = &group[at..];
        if rest.is_empty() || rest.starts_with('}') {
            return end + 1 + at + 1;
        }
        let took = use_tree(rest, &path, out);
        // ` as name` and anything else up to the next item.
        let tail = &group[at + took..];
        at += took + tail.find([',', '}']).unwrap_or(tail.len());
    }
}

/// The module a path lands in: its longest prefix that is a module.
fn resolve(mods: &BTreeMap<String, PathBuf>, path: &str) -> Option<String> {
    let parts: Vec<&str> = path.split("::").collect();
    (1..=parts.len())
        .rev()
        .map(|n| parts[..n].join("::"))
        .find(|m| mods.contains_key(m))
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let mods = modules();
    let mut edges = BTreeMap::new();
    for (name, file) in &mods {
        let text = std::fs::read_to_string(file).unwrap();
        let code = without_tests(&text);
        let parent = name.rsplit_once("::").map_or("", |(p, _)| p);
        let mut deps = BTreeSet::new();
        let mut add = |full: String| {
            if let Some(m) = resolve(&mods, &full).filter(|m| m != name) {
                deps.insert(m);
            }
        };
        for p in paths_after(&code, "crate::") {
            add(p);
        }
        for p in paths_after(&code, "super::") {
            // `super::super::x`: one module up for each further `super`.
            let mut base: Vec<&str> = parent.split("::").filter(|s| !s.is_empty()).collect();
            let mut p = p.as_str();
            while let Some(rest) = p.strip_prefix("super::") {
                base.pop();
                p = rest;
            }
            base.push(p);
            add(base.join("::"));
        }
        for p in paths_after(&code, "self::") {
            add(format!("{name}::{p}"));
        }
        edges.insert(name.clone(), deps);
    }
    edges
}

// Depth-first search for a back edge, with the path that closes it.
fn visit(
    m: &str,
    edges: &BTreeMap<String, BTreeSet<String>>,
    stack: &mut Vec<String>,
    done: &mut BTreeSet<String>,
    cycles: &mut Vec<String>,
) {
    if let Some(i) = stack.iter().position(|s| s == m) {
        cycles.push(format!("{} -> {m}", stack[i..].join(" -> ")));
        return;
    }
    if !done.insert(m.to_owned()) {
        return;
    }
    stack.push(m.to_owned());
    for d in edges.get(m).into_iter().flatten() {
        visit(d, edges, stack, done, cycles);
    }
    stack.pop();
}

#[test]
fn no_module_imports_a_module_that_imports_it() {
    let edges = graph();
    assert!(edges.len() > 40, "read only {} modules", edges.len());
    let (mut done, mut cycles) = (BTreeSet::new(), Vec::new());
    for m in edges.keys() {
        visit(m, &edges, &mut Vec::new(), &mut done, &mut cycles);
    }
    assert!(cycles.is_empty(), "module cycles:\n{}", cycles.join("\n"));
    // The graph is read, not empty: the engines use the table's module.
    assert!(edges["service::apply"].contains("service::transaction"));
}

#[test]
fn no_folder_imports_a_folder_that_imports_it() {
    // The same rule between the top-level modules (folders): the tree reads bottom up, as
    // README's Layout lists it.
    let mut tops: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let top = |m: &str| m.split("::").next().unwrap_or(m).to_owned();
    for (m, deps) in graph() {
        let entry = tops.entry(top(&m)).or_default();
        entry.extend(deps.iter().map(|d| top(d)).filter(|d| *d != top(&m)));
    }
    let (mut done, mut cycles) = (BTreeSet::new(), Vec::new());
    for m in tops.keys() {
        visit(m, &tops, &mut Vec::new(), &mut done, &mut cycles);
    }
    assert!(cycles.is_empty(), "folder cycles:\n{}", cycles.join("\n"));
    assert!(tops["commands"].contains("service") && tops["service"].contains("binfmt"));
}

/// Functions outside unit tests and their length in lines, from `fn` to the closing brace at
/// the same indentation (rustfmt's layout).
fn long_functions(limit: usize) -> Vec<String> {
    let mut out = Vec::new();
    for file in modules().values() {
        let text = std::fs::read_to_string(file).unwrap();
        let code = without_tests(&text);
        let lines: Vec<&str> = code.lines().collect();
        let mut i = 0;
        while i < lines.len() {
            let line = lines[i];
            let indent = line.len() - line.trim_start().len();
            let t = line.trim_start();
            let is_fn = [
                "fn ",
                "pub fn ",
                "pub(crate) fn ",
                "pub(super) fn ",
                "const fn ",
            ]
            .iter()
            .any(|p| t.starts_with(p));
            if !is_fn {
                i += 1;
                continue;
            }
            let mut open = i;
            while open < lines.len()
                && !lines[open].trim_end().ends_with('{')
                && !lines[open].trim_end().ends_with(';')
            {
                open += 1;
            }
            if open >= lines.len() || lines[open].trim_end().ends_with(';') {
                i = open + 1;
                continue;
            }
            let close = (open + 1..lines.len())
                .find(|&k| lines[k].starts_with(&format!("{}}}", " ".repeat(indent))))
                .unwrap_or(lines.len() - 1);
            let n = close - i + 1;
            if n > limit {
                out.push(format!(
                    "{}:{} ({n} lines)",
                    file.strip_prefix(SRC).unwrap().display(),
                    i + 1
                ));
            }
            i = close + 1;
        }
    }
    out
}

#[test]
fn no_function_outside_tests_is_over_80_lines() {
    let long = long_functions(80);
    assert!(
        long.is_empty(),
        "split these by meaning:\n{}",
        long.join("\n")
    );
    // The measure sees functions at all: some are over 40.
    assert!(!long_functions(40).is_empty());
}

#[test]
fn every_command_file_is_thin() {
    let mut fat = Vec::new();
    for entry in std::fs::read_dir(Path::new(SRC).join("commands")).unwrap() {
        let p = entry.unwrap().path();
        let n = std::fs::read_to_string(&p).unwrap().lines().count();
        if n > 250 {
            fat.push(format!("{} ({n} lines)", p.display()));
        }
    }
    assert!(
        fat.is_empty(),
        "a command parses, calls one service, renders; move the rest out:\n{}",
        fat.join("\n")
    );
}
