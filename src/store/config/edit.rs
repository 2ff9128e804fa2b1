//! Saving a config that was read from a file edits that file's document (toml_edit) instead
//! of writing it anew: comments, blank lines, key order and the formatting of untouched records
//! survive; added records and keys are appended in the format of a fresh file; a removed record
//! or key goes with its own comment lines, the ones directly above it. Comments set apart from
//! it by a blank line (the file's header, a note about the records below) stay.

use anyhow::Result;
use toml_edit::{ArrayOfTables, DocumentMut, Item, Table};

use super::{Config, SystemConfig};

/// A config file as it was read: its text (parsed as a document only when saving: `apply`
/// at boot reads the config and never saves it), and the config it held.
#[derive(Debug, Clone)]
pub(super) struct Original {
    text: String,
    was: Config,
}

impl Original {
    /// The document of `text`, which parsed to `was`; None for a file with nothing in it
    /// (whitespace only), which is written as a fresh one.
    pub(super) fn new(text: &str, was: &Config) -> Option<Original> {
        if text.trim().is_empty() {
            return None;
        }
        Some(Original {
            text: text.to_owned(),
            was: was.clone(),
        })
    }
}

/// The text of `now`, written over the document it was read from. `fresh` is `now` as a new
/// file has it (without the header): where added records and keys take their format from.
pub(super) fn render(original: &Original, now: &Config, fresh: &str) -> Result<String> {
    let fresh: DocumentMut = fresh.parse()?;
    // toml parses with toml_edit's parser, so a text that gave `was` parses here too.
    let mut doc: DocumentMut = original.text.parse()?;
    let mut carry = Carry::default();
    // A file with nothing but comments: they are its header, and stay above what is added.
    if doc.as_table().is_empty() {
        carry.0.push_str(prefix_text(Some(doc.trailing()), ""));
        doc.set_trailing("");
    }
    root(&mut doc, &original.was, now, fresh.as_table(), &mut carry);
    systems(&mut doc, &original.was, now, fresh.as_table(), &mut carry);
    if carry.is_pending() {
        let trailing = prefix_text(Some(doc.trailing()), "").to_owned();
        let text = carry.0 + &trailing;
        // With nothing above to part it from, no blank line first.
        let empty = doc.as_table().is_empty();
        doc.set_trailing(if empty {
            without_leading_blank_lines(&text)
        } else {
            &text
        });
    }
    Ok(doc.to_string())
}

/// The top-level keys (`nix`, `forced_interpreters`; `system` when written as an inline
/// array, which a change turns into `[[system]]` tables).
fn root(doc: &mut DocumentMut, was: &Config, now: &Config, fresh: &Table, carry: &mut Carry) {
    let mut changed = Vec::new();
    if was.nix != now.nix {
        changed.push("nix");
    }
    if was.forced_interpreters != now.forced_interpreters {
        changed.push("forced_interpreters");
    }
    if was.systems != now.systems && doc.get("system").is_some_and(Item::is_value) {
        changed.push("system");
        // Its comments stay, above the tables that take its place.
        if let Some(mut key) = doc.key_mut("system") {
            let prefix = prefix_text(key.leaf_decor().prefix(), "").to_owned();
            carry.0.push_str(&prefix);
            key.leaf_decor_mut().set_prefix("");
        }
    }
    sync_keys(doc.as_table_mut(), &changed, fresh, carry);
    let adds = changed
        .iter()
        .any(|k| !doc.contains_key(k) && fresh.get(k).is_some_and(Item::is_value));
    // The first top-level key goes below the file's header, which sat above the first table,
    // and a blank line parts it from the tables, as in a fresh file.
    if adds && !doc.iter().any(|(_, item)| item.is_value()) {
        if let Some(first) = doc
            .get_mut("system")
            .and_then(Item::as_array_of_tables_mut)
            .and_then(|a| a.iter_mut().next())
        {
            let prefix = prefix_text(first.decor().prefix(), "").to_owned();
            carry.take_detached(&prefix);
            first
                .decor_mut()
                .set_prefix(format!("\n{}", split(&prefix).1));
        }
    }
    add_keys(doc.as_table_mut(), &changed, fresh, carry);
}

/// The `[[system]]` tables: kept records edited where they changed, removed ones dropped with
/// their own comments, new ones appended; in the config's order.
fn systems(doc: &mut DocumentMut, was: &Config, now: &Config, fresh: &Table, carry: &mut Carry) {
    let old = match doc.get("system") {
        Some(Item::ArrayOfTables(_)) => match doc.remove("system") {
            Some(Item::ArrayOfTables(a)) => a,
            _ => ArrayOfTables::new(),
        },
        // An inline array that did not change stays as it was; one that changed is gone (root).
        Some(_) => return,
        None => ArrayOfTables::new(),
    };
    // Whether a table now first in the file lost what was above it: then no blank line leads.
    let mut at_top = !doc.iter().any(|(_, item)| item.is_value());
    let mut kept: Vec<(&SystemConfig, Table)> = Vec::new();
    for (mut table, rec) in old.into_iter().zip(&was.systems) {
        let Some(new) = now.systems.iter().find(|r| r.name == rec.name) else {
            carry.take_detached(prefix_text(table.decor().prefix(), "\n"));
            continue;
        };
        let prefix = prefix_text(table.decor().prefix(), "\n").to_owned();
        if carry.is_pending() {
            table.decor_mut().set_prefix(carry.attach(&prefix));
        } else if at_top && kept.len() < rec_index(was, rec) {
            table
                .decor_mut()
                .set_prefix(without_leading_blank_lines(&prefix));
        }
        at_top = false;
        let changed = changed_fields(rec, new);
        let fresh_rec = fresh_record(fresh, now, &new.name)
            .cloned()
            .unwrap_or_default();
        sync_keys(&mut table, &changed, &fresh_rec, carry);
        add_keys(&mut table, &changed, &fresh_rec, carry);
        kept.push((new, table));
    }
    let mut tables = ArrayOfTables::new();
    for rec in &now.systems {
        let mut table = if let Some(i) = kept.iter().position(|(r, _)| r.name == rec.name) {
            kept.swap_remove(i).1
        } else {
            let mut table = fresh_record(fresh, now, &rec.name)
                .cloned()
                .unwrap_or_default();
            *table.decor_mut() = toml_edit::Decor::default();
            if carry.is_pending() {
                table.decor_mut().set_prefix(carry.attach("\n"));
            }
            table
        };
        // Rendered in this order (the root table is position 0).
        table.set_position(tables.len() + 1);
        tables.push(table);
    }
    if !tables.is_empty() {
        doc.insert("system", Item::ArrayOfTables(tables));
    }
}

/// Where `rec` is among the records of `config`.
fn rec_index(config: &Config, rec: &SystemConfig) -> usize {
    config
        .systems
        .iter()
        .position(|r| r.name == rec.name)
        .unwrap_or_default()
}

/// The table of a fresh file for the record named `name`.
fn fresh_record<'a>(
    fresh: &'a Table,
    now: &Config,
    name: &crate::binfmt::EntryName,
) -> Option<&'a Table> {
    let i = now.systems.iter().position(|r| &r.name == name)?;
    fresh.get("system")?.as_array_of_tables()?.get(i)
}

/// The keys of a record whose values differ, by value (not by how they are written).
fn changed_fields(was: &SystemConfig, now: &SystemConfig) -> Vec<&'static str> {
    [
        ("system", was.system != now.system),
        ("name", was.name != now.name),
        ("interpreter", was.interpreter != now.interpreter),
        ("flags", was.flags != now.flags),
        ("credentials", was.credentials != now.credentials),
        ("also", was.also != now.also),
    ]
    .into_iter()
    .filter_map(|(key, differs)| differs.then_some(key))
    .collect()
}

/// Give the `changed` keys of `table` their values in `fresh`: a key fresh lacks (a default
/// value a fresh file leaves out) is removed, with its own comments (see [`add_keys`] for the
/// keys `table` lacks). An unchanged key is left exactly as written.
fn sync_keys(table: &mut Table, changed: &[&str], fresh: &Table, carry: &mut Carry) {
    let fresh_value = |key: &str| fresh.get(key).and_then(Item::as_value);
    let keys: Vec<String> = table
        .iter()
        .filter(|(_, item)| item.is_value())
        .map(|(k, _)| k.to_owned())
        .collect();
    for key in keys {
        let change = changed.contains(&key.as_str());
        let Some(new) = change.then(|| fresh_value(&key)) else {
            attach_to_key(table, &key, carry);
            continue;
        };
        match new {
            None => {
                if let Some(k) = table.key_mut(&key) {
                    carry.take_detached(prefix_text(k.leaf_decor().prefix(), ""));
                }
                table.remove(&key);
            }
            Some(new) => {
                attach_to_key(table, &key, carry);
                if let Some(Item::Value(old)) = table.get_mut(&key) {
                    let decor = old.decor().clone();
                    *old = new.clone();
                    *old.decor_mut() = decor;
                }
            }
        }
    }
}

/// Append the `changed` keys `table` lacks and `fresh` has, as a fresh file writes them.
fn add_keys(table: &mut Table, changed: &[&str], fresh: &Table, carry: &mut Carry) {
    for key in changed {
        if table.contains_key(key) {
            continue;
        }
        if let Some(new) = fresh.get(key).and_then(Item::as_value) {
            let mut new = new.clone();
            *new.decor_mut() = toml_edit::Decor::default();
            table.insert(key, Item::Value(new));
            attach_to_key(table, key, carry);
        }
    }
}

fn attach_to_key(table: &mut Table, key: &str, carry: &mut Carry) {
    if !carry.is_pending() {
        return;
    }
    if let Some(mut k) = table.key_mut(key) {
        let prefix = prefix_text(k.leaf_decor().prefix(), "").to_owned();
        k.leaf_decor_mut().set_prefix(carry.attach(&prefix));
    }
}

/// Comments of removed items that were not their own, on their way to the next item kept
/// (or the end of the file).
#[derive(Debug, Default)]
struct Carry(String);

impl Carry {
    fn is_pending(&self) -> bool {
        !self.0.is_empty()
    }

    /// From a removed item's prefix, keep what is set apart from it by a blank line, if it
    /// holds a comment (blank lines alone go with the item).
    fn take_detached(&mut self, prefix: &str) {
        let (detached, _) = split(prefix);
        if detached.lines().any(|l| l.trim_start().starts_with('#')) {
            self.0.push_str(detached);
        }
    }

    /// The prefix of the next item kept: what is carried, then its own, with one blank line
    /// between them.
    fn attach(&mut self, prefix: &str) -> String {
        let carried = std::mem::take(&mut self.0);
        if ends_with_blank_line(&carried) {
            format!("{carried}{}", without_leading_blank_lines(prefix))
        } else {
            format!("{carried}\n{}", without_leading_blank_lines(prefix))
        }
    }
}

/// An item's prefix as text (`default` where toml_edit would write its default).
fn prefix_text<'a>(raw: Option<&'a toml_edit::RawString>, default: &'a str) -> &'a str {
    raw.and_then(toml_edit::RawString::as_str)
        .unwrap_or(default)
}

/// A prefix split after its last blank line: what is set apart from the item, and what is its
/// own (the comment lines directly above it, and its indentation).
fn split(prefix: &str) -> (&str, &str) {
    let mut cut = 0;
    let mut at = 0;
    for line in prefix.split_inclusive('\n') {
        at += line.len();
        if line.ends_with('\n') && line.trim().is_empty() {
            cut = at;
        }
    }
    prefix.split_at(cut)
}

fn ends_with_blank_line(text: &str) -> bool {
    text.split_inclusive('\n')
        .next_back()
        .is_some_and(|l| l.ends_with('\n') && l.trim().is_empty())
}

fn without_leading_blank_lines(text: &str) -> &str {
    let mut rest = text;
    while let Some(end) = rest.find('\n') {
        if rest[..end].trim().is_empty() {
            rest = &rest[end + 1..];
        } else {
            break;
        }
    }
    rest
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::{FlagsText, HEADER};
    use super::*;
    use crate::binfmt::Flags;

    /// A config as a person might have edited it: comments above, beside and between the
    /// records, a literal string, flags in another order, an array with spaces.
    const HAND: &str = "# binfmtctl's configuration: the registrations restored at boot by `binfmtctl apply`.\n\
        # Edit with `binfmtctl enable` / `binfmtctl disable`, or by hand: records are checked when read,\n\
        # and comments, blank lines and order survive binfmtctl's edits.\n\
        \n\
        # The lab's build machine: keep riscv64 first.\n\
        \n\
        [[system]]\n\
        # riscv64 boards\n\
        system = \"riscv64-linux\"   # the boards' system\n\
        name = \"riscv64-linux\"\n\
        interpreter = \"/usr/bin/qemu-riscv64-static\"\n\
        flags = \"PF\"\n\
        \n\
        # The arm box, both ABIs.\n\
        [[system]]\n\
        system = \"armv6l-linux\"\n\
        name = \"qemu-arm\"\n\
        interpreter = '/usr/bin/qemu-arm-static'  # a literal string\n\
        flags = \"FP\"\n\
        also = [ \"armv7l-linux\" ]\n";

    fn parse(text: &str) -> Config {
        Config::parse(text, Path::new("c.toml")).unwrap()
    }

    fn rec(system: &str, name: &str, interpreter: &str) -> SystemConfig {
        SystemConfig {
            system: system.into(),
            name: name.parse().unwrap(),
            interpreter: interpreter.into(),
            flags: FlagsText(Flags::parse_strict("PF").unwrap()),
            credentials: false,
            also: vec![],
        }
    }

    /// Render, and check that the text reads back as the config and renders the same again.
    fn render(c: &Config) -> String {
        let text = c.render().unwrap();
        let back = parse(&text);
        assert_eq!(&back, c, "{text}");
        assert_eq!(back.render().unwrap(), text);
        text
    }

    #[test]
    fn an_unchanged_config_is_written_back_byte_for_byte() {
        assert_eq!(render(&parse(HAND)), HAND);
        // A fresh file's text too (its header included).
        let mut c = Config::default();
        c.upsert(rec("riscv64-linux", "riscv64-linux", "/q"));
        let fresh = render(&c);
        assert_eq!(render(&parse(&fresh)), fresh);
    }

    #[test]
    fn an_added_record_is_appended_in_the_fresh_format() {
        let mut c = parse(HAND);
        c.upsert(rec(
            "aarch64-linux",
            "aarch64-linux",
            "/usr/bin/qemu-aarch64-static",
        ));
        assert_eq!(
            render(&c),
            format!(
                "{HAND}\n[[system]]\nsystem = \"aarch64-linux\"\nname = \"aarch64-linux\"\n\
                 interpreter = \"/usr/bin/qemu-aarch64-static\"\nflags = \"PF\"\n"
            )
        );
    }

    #[test]
    fn a_changed_record_changes_only_the_values_that_differ() {
        let mut c = parse(HAND);
        let mut arm = c.systems[1].clone();
        arm.interpreter = "/opt/qemu-arm".into();
        arm.credentials = true;
        arm.flags = FlagsText(Flags::parse_strict("PFC").unwrap());
        arm.also.clear();
        c.upsert(arm);
        let want = HAND
            .replace(
                "interpreter = '/usr/bin/qemu-arm-static'  # a literal string\nflags = \"FP\"\nalso = [ \"armv7l-linux\" ]\n",
                "interpreter = \"/opt/qemu-arm\"  # a literal string\nflags = \"PCF\"\ncredentials = true\n",
            );
        assert_ne!(want, HAND);
        assert_eq!(render(&c), want);
        // The same flags written otherwise are no change.
        let mut c = parse(HAND);
        let mut arm = c.systems[1].clone();
        arm.flags = FlagsText(Flags::parse_strict("PF").unwrap());
        c.upsert(arm);
        assert_eq!(render(&c), HAND);
    }

    #[test]
    fn a_removed_record_goes_with_its_own_comments_only() {
        let mut c = parse(HAND);
        c.remove(&"qemu-arm".parse().unwrap());
        let (kept, _) = HAND.split_once("\n# The arm box").unwrap();
        assert_eq!(render(&c), kept);

        // The first record: the header and the note set apart by a blank line stay.
        let mut c = parse(HAND);
        c.remove(&"riscv64-linux".parse().unwrap());
        let (head, _) = HAND.split_once("[[system]]\n# riscv64").unwrap();
        let (_, arm) = HAND.split_once("# The arm box").unwrap();
        assert_eq!(render(&c), format!("{head}# The arm box{arm}"));

        // Every record: the comments that were no record's own stay; an added record goes
        // below them.
        let mut c = parse(HAND);
        c.remove(&"riscv64-linux".parse().unwrap());
        c.remove(&"qemu-arm".parse().unwrap());
        let text = render(&c);
        assert_eq!(text, head);
        let mut c = parse(&text);
        c.upsert(rec("riscv64-linux", "riscv64-linux", "/q"));
        assert_eq!(
            render(&c),
            format!("{head}[[system]]\nsystem = \"riscv64-linux\"\nname = \"riscv64-linux\"\ninterpreter = \"/q\"\nflags = \"PF\"\n")
        );
    }

    #[test]
    fn a_file_never_starts_with_the_blank_line_of_a_record_that_was_below() {
        let a = "[[system]]\nsystem = \"x\"\nname = \"a\"\ninterpreter = \"/q\"\nflags = \"F\"\n";
        let b = a.replace("\"a\"", "\"b\"");
        let mut c = parse(&format!("{a}\n{b}"));
        c.remove(&"a".parse().unwrap());
        assert_eq!(render(&c), b);
        // A blank line the file started with stays.
        let mut c = parse(&format!("\n{a}\n{b}"));
        c.remove(&"b".parse().unwrap());
        assert_eq!(render(&c), format!("\n{a}"));
    }

    #[test]
    fn top_level_keys_go_below_the_header_and_go_with_their_own_comments() {
        let mut c = parse(HAND);
        c.nix = true;
        c.force_interpreter("/usr/bin/qemu-arm-static");
        let (head, records) = HAND.split_once("\n[[system]]\n").unwrap();
        let with = format!(
            "{head}\nnix = true\nforced_interpreters = [\"/usr/bin/qemu-arm-static\"]\n\n[[system]]\n{records}"
        );
        assert_eq!(render(&c), with);
        // Taken out again: the file is as it was.
        let mut c = parse(&with);
        c.nix = false;
        c.remove(&"qemu-arm".parse().unwrap());
        c.upsert(parse(HAND).systems[1].clone());
        assert!(c.forced_interpreters.is_empty());
        assert_eq!(render(&c), HAND);
        // A comment of its own goes with a key; one set apart stays.
        let text =
            "# about nix\nnix = true\n\n# note\n\n# forced\nforced_interpreters = [\"/q\"]\n";
        let mut c = parse(text);
        c.nix = false;
        c.forced_interpreters.clear();
        assert_eq!(render(&c), "# note\n\n");
    }

    #[test]
    fn a_fresh_config_renders_as_before() {
        let mut c = Config {
            nix: true,
            ..Config::default()
        };
        c.upsert(rec("riscv64-linux", "riscv64-linux", "/q"));
        assert_eq!(
            render(&c),
            format!(
                "{HEADER}nix = true\n\n[[system]]\nsystem = \"riscv64-linux\"\nname = \"riscv64-linux\"\ninterpreter = \"/q\"\nflags = \"PF\"\n"
            )
        );
        // An empty file is written as a fresh one, header included.
        assert_eq!(render(&parse("\n")), HEADER);
        let mut c = parse(" \n");
        c.upsert(rec("riscv64-linux", "riscv64-linux", "/q"));
        assert!(render(&c).starts_with(HEADER));
    }

    #[test]
    fn records_written_as_an_inline_array_become_tables_when_they_change() {
        let text = "# mine\nsystem = [{ system = \"riscv64-linux\", name = \"r\", interpreter = \"/q\", flags = \"PF\" }]\n";
        assert_eq!(render(&parse(text)), text);
        let mut c = parse(text);
        c.upsert(rec("aarch64-linux", "a", "/q"));
        let text = render(&c);
        assert!(
            text.starts_with("# mine\n\n[[system]]\nsystem = \"riscv64-linux\""),
            "{text}"
        );
    }

    #[test]
    fn any_two_edits_read_back_as_meant() {
        let ops: [fn(&mut Config); 7] = [
            |c| c.nix = !c.nix,
            |c| c.force_interpreter("/usr/bin/qemu-arm-static"),
            |c| {
                c.remove(&"riscv64-linux".parse().unwrap());
            },
            |c| {
                c.remove(&"qemu-arm".parse().unwrap());
            },
            |c| c.upsert(rec("aarch64-linux", "riscv64-linux", "/q")),
            |c| c.upsert(rec("aarch64-linux", "a", "/q")),
            |c| c.forced_interpreters.clear(),
        ];
        for (i, first) in ops.iter().enumerate() {
            for (j, second) in ops.iter().enumerate() {
                let mut c = parse(HAND);
                first(&mut c);
                let mut c = parse(&render(&c));
                second(&mut c);
                let text = render(&c);
                assert!(text.starts_with(HEADER), "{i} {j}: {text}");
            }
        }
    }

    #[test]
    fn prefixes_split_at_their_last_blank_line() {
        for (prefix, detached, own) in [
            ("", "", ""),
            ("\n", "\n", ""),
            ("# a\n\n# b\n", "# a\n\n", "# b\n"),
            ("# a\n  \n  ", "# a\n  \n", "  "),
            ("# b\n", "", "# b\n"),
        ] {
            assert_eq!(split(prefix), (detached, own), "{prefix:?}");
        }
    }
}
