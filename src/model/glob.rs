//! Shell glob patterns over binfmt_misc entry names (`disable 'qemu-*'`, tonistiigi's
//! `--uninstall 'qemu-*'`): `*`, `?` and `[...]` as in fnmatch(3) without flags. Entry names
//! hold no `/`, so there is no path rule to honour.

/// Whether `text` is a pattern (holds `*`, `?` or `[`) rather than a plain name.
pub fn is_pattern(text: &str) -> bool {
    text.contains(['*', '?', '['])
}

/// Whether the whole of `name` matches `pattern`. A `[` without its closing `]` stands for
/// itself, as in the shell.
pub fn matches(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // Iterative matching with one backtrack point for the last `*` (linear in practice).
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        let step = match p.get(pi) {
            Some('*') => {
                star = Some((pi, ni));
                pi += 1;
                continue;
            }
            Some('?') => Some(1),
            Some('[') => match class(&p[pi..], n[ni]) {
                Some((true, len)) => Some(len),
                Some((false, _)) => None,
                None => (n[ni] == '[').then_some(1),
            },
            Some(&c) => (c == n[ni]).then_some(1),
            None => None,
        };
        match (step, star) {
            (Some(len), _) => {
                pi += len;
                ni += 1;
            }
            (None, Some((sp, sn))) => {
                pi = sp + 1;
                ni = sn + 1;
                star = Some((sp, sn + 1));
            }
            (None, None) => return false,
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// A bracket expression at the start of `p` against `c`: (whether it matches, its length in
/// the pattern), or None when it has no closing `]`.
fn class(p: &[char], c: char) -> Option<(bool, usize)> {
    let mut i = 1;
    let negate = matches!(p.get(i), Some('!' | '^'));
    if negate {
        i += 1;
    }
    let mut hit = false;
    let mut first = true;
    loop {
        let &x = p.get(i)?;
        if x == ']' && !first {
            return Some((hit != negate, i + 1));
        }
        first = false;
        if p.get(i + 1) == Some(&'-') && p.get(i + 2).is_some_and(|&y| y != ']') {
            hit |= (x..=p[i + 2]).contains(&c);
            i += 3;
        } else {
            hit |= x == c;
            i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{is_pattern, matches};

    #[test]
    fn patterns_match_whole_names_as_the_shell_does() {
        for (pattern, name, want) in [
            ("qemu-*", "qemu-aarch64", true),
            ("qemu-*", "qemu-", true),
            ("qemu-*", "riscv64-linux", false),
            ("qemu-*", "xqemu-arm", false),
            ("*-linux", "riscv64-linux", true),
            ("*-linux", "riscv64-linux-x", false),
            ("qemu-?rm", "qemu-arm", true),
            ("qemu-?rm", "qemu-armeb", false),
            ("qemu-arm*", "qemu-armeb", true),
            ("*a*b*", "xxaxxbxx", true),
            ("*a*b", "xxaxxbxxc", false),
            ("qemu-[ar]*", "qemu-riscv64", true),
            ("qemu-[ar]*", "qemu-aarch64", true),
            ("qemu-[!ar]*", "qemu-aarch64", false),
            ("qemu-[!ar]*", "qemu-s390x", true),
            ("qemu-[^ar]*", "qemu-s390x", true),
            ("qemu-[a-c]*", "qemu-s390x", false),
            ("qemu-[a-c]*", "qemu-aarch64", true),
            ("[]]x", "]x", true),
            ("[a-]x", "-x", true),
            ("qemu-[arm", "qemu-[arm", true),
            ("qemu-[arm", "qemu-a", false),
            ("*", "", true),
            ("", "", true),
            ("", "a", false),
            ("riscv64-linux", "riscv64-linux", true),
        ] {
            assert_eq!(matches(pattern, name), want, "{pattern:?} against {name:?}");
        }
    }

    #[test]
    fn a_plain_name_is_not_a_pattern() {
        assert!(is_pattern("qemu-*"));
        assert!(is_pattern("qemu-?"));
        assert!(is_pattern("qemu-[ab]"));
        assert!(!is_pattern("riscv64-linux"));
        assert!(!is_pattern("qemu-aarch64"));
    }
}
