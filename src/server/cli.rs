//! Parsing helpers shared by the bundled command-line tools (`echo-server`,
//! `wsload`), so that sizes and durations read the same everywhere.

use std::prelude::rust_2021::*;
use std::time::Duration;

/// Parses a byte size: `1234`, `64KiB`, `16MiB`, `1GiB` (powers of two, also
/// `K`, `M`, `G`), or `10KB`, `5MB`, `1GB` (powers of ten). `flag` names the
/// option in the error message.
pub fn parse_size(flag: &str, v: &str) -> Result<u64, String> {
    let split = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (digits, suffix) = v.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{flag} {v}: not a size"))?;
    let unit: u64 = match suffix.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        _ => return Err(format!("{flag} {v}: unknown size suffix")),
    };
    n.checked_mul(unit)
        .ok_or_else(|| format!("{flag} {v}: too large"))
}

/// Parses a duration in seconds, fractions allowed (`0.5`).
pub fn parse_secs(flag: &str, v: &str) -> Result<Duration, String> {
    v.parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0 && *s < 1e9)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| format!("{flag} {v}: not a number of seconds"))
}

/// Reads command-line arguments as flags, `--name value` or
/// `--name=value`; any other argument comes back whole.
pub struct Args<I> {
    args: I,
    /// The value given after `=` in the last flag.
    inline: Option<String>,
}

impl<I: Iterator<Item = String>> Args<I> {
    /// Reads `args` (the program name already skipped).
    pub fn new(args: I) -> Self {
        Args { args, inline: None }
    }

    /// The next flag, without its `=value`, or the next other argument.
    pub fn next_flag(&mut self) -> Option<String> {
        let arg = self.args.next()?;
        self.inline = None;
        match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => {
                self.inline = Some(value.to_owned());
                Some(flag.to_owned())
            }
            _ => Some(arg),
        }
    }

    /// The value of `flag`, the last one read: given after `=`, or the next
    /// argument.
    pub fn value(&mut self, flag: &str) -> Result<String, String> {
        self.inline
            .take()
            .or_else(|| self.args.next())
            .ok_or_else(|| format!("{flag} needs a value"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_take_binary_and_decimal_suffixes() {
        assert_eq!(parse_size("f", "0"), Ok(0));
        assert_eq!(parse_size("f", "123"), Ok(123));
        assert_eq!(parse_size("f", "64KiB"), Ok(65536));
        assert_eq!(parse_size("f", "16MiB"), Ok(16 << 20));
        assert_eq!(parse_size("f", "1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("f", "10KB"), Ok(10_000));
        assert!(parse_size("f", "12XB").is_err());
        assert!(parse_size("f", "KiB").is_err());
        assert!(parse_size("f", "99999999999GiB").is_err());
    }

    #[test]
    fn flags_take_values_inline_or_next() {
        let argv = ["--a=1", "--b", "2", "word", "--c"];
        let mut args = Args::new(argv.iter().map(|s| s.to_string()));
        assert_eq!(args.next_flag().as_deref(), Some("--a"));
        assert_eq!(args.value("--a"), Ok("1".into()));
        assert_eq!(args.next_flag().as_deref(), Some("--b"));
        assert_eq!(args.value("--b"), Ok("2".into()));
        assert_eq!(args.next_flag().as_deref(), Some("word"));
        assert_eq!(args.next_flag().as_deref(), Some("--c"));
        assert!(args.value("--c").is_err());
        assert_eq!(args.next_flag(), None);
    }

    #[test]
    fn seconds_take_fractions_and_refuse_nonsense() {
        assert_eq!(parse_secs("f", "0.5"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_secs("f", "10"), Ok(Duration::from_secs(10)));
        assert!(parse_secs("f", "-1").is_err());
        assert!(parse_secs("f", "inf").is_err());
        assert!(parse_secs("f", "soon").is_err());
    }
}
