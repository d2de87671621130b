//! Text that came from a server, made safe for a terminal, and small formatting helpers.
//!
//! Anything an API or a file supplies (error messages, names, descriptions, `Location` headers) can
//! carry terminal escape sequences (`ESC ]0;…BEL` retitles a window, `ESC [2J` clears the screen),
//! carriage returns that overwrite a line, or bidirectional overrides that reorder what is shown.
//! This module removes them. It never interprets text, and it has no I/O.

/// Bidirectional embedding, override and isolate controls (the "Trojan Source" characters).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Whether `c` is dropped from server text: C0 and C1 controls, DEL and bidi controls. Newlines and
/// tabs are handled by the callers.
fn is_unsafe(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t') || is_bidi_control(c)
}

/// Server text for a terminal: control characters removed, newlines and tabs kept.
pub fn sanitize(text: &str) -> String {
    if !text.chars().any(is_unsafe) {
        return text.to_string();
    }
    text.chars().filter(|c| !is_unsafe(*c)).collect()
}

/// Server text on one line, whole: line breaks and tabs become spaces, other controls (and bidi
/// controls) are dropped. For values that end up in a line of their own (a hook's environment).
pub fn flatten(text: &str) -> String {
    text.chars()
        .filter(|c| !is_unsafe(*c))
        .map(|c| {
            if c.is_whitespace() && c != ' ' && c.is_control() {
                ' '
            } else {
                c
            }
        })
        .collect()
}

/// [`sanitize`], except for the foreground-colour sequences snapctl's own tables emit under
/// `--color` (`ESC[38;5;Nm` and `ESC[39m`), which only change a colour. Table cells are sanitised
/// one by one before they are coloured, so no server text brings its own sequence this way.
pub fn sanitize_keeping_colours(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('\u{1b}') {
        out.push_str(&sanitize(&rest[..i]));
        let seq = &rest[i..];
        let allowed = seq.starts_with("\u{1b}[39m").then_some(5).or_else(|| {
            let body = seq.strip_prefix("\u{1b}[38;5;")?;
            let digits = body.chars().take_while(char::is_ascii_digit).count();
            ((1..=3).contains(&digits) && body[digits..].starts_with('m'))
                .then_some("\u{1b}[38;5;".len() + digits + 1)
        });
        match allowed {
            Some(n) => {
                out.push_str(&seq[..n]);
                rest = &seq[n..];
            }
            None => rest = &seq[1..],
        }
    }
    out.push_str(&sanitize(rest));
    out
}

/// Server text for one line of a message or a table cell: control characters removed, line breaks
/// and tabs turned into spaces, clipped to `max` characters with a note of what was cut.
pub fn one_line(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max + 32));
    let mut kept = 0usize;
    let mut cut_bytes = 0usize;
    for c in text.chars() {
        if is_unsafe(c) {
            continue;
        }
        if kept >= max {
            cut_bytes += c.len_utf8();
            continue;
        }
        out.push(if c == '\n' || c == '\t' { ' ' } else { c });
        kept += 1;
    }
    if cut_bytes > 0 {
        out.push_str(&format!("… [{cut_bytes} more bytes]"));
    }
    out
}

/// Query parameters that make a URL a credential (pre-signed object-storage URLs and the like).
const SIGNED_QUERY_MARKERS: [&str; 9] = [
    "signature",
    "x-amz-",
    "x-goog-",
    "awsaccesskeyid",
    "credential",
    "token",
    "sig=",
    "sv=",
    "accesskey",
];

/// Replace the query string of every pre-signed URL in `text` with `***`, so a trace can show where
/// a URL points without handing out what it grants (an OUTSCALE import's `FileLocation`, say).
pub fn redact_signed_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest
        .find("http://")
        .into_iter()
        .chain(rest.find("https://"))
        .min()
    {
        out.push_str(&rest[..start]);
        let url_and_more = &rest[start..];
        let end = url_and_more
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '\\'))
            .unwrap_or(url_and_more.len());
        let url = &url_and_more[..end];
        match url.split_once('?') {
            Some((base, query))
                if SIGNED_QUERY_MARKERS
                    .iter()
                    .any(|m| query.to_ascii_lowercase().contains(m)) =>
            {
                out.push_str(base);
                out.push_str("?***");
            }
            _ => out.push_str(url),
        }
        rest = &url_and_more[end..];
    }
    out.push_str(rest);
    redact_signature_values(&out)
}

/// Query parameter names whose value is itself the secret part of a pre-signed URL (SigV4's
/// signature and credential, SigV2's signature and key id, a session token).
const SIGNATURE_KEYS: [&str; 5] = [
    "x-amz-signature",
    "x-amz-credential",
    "x-amz-security-token",
    "awsaccesskeyid",
    "signature",
];

/// Replace the value after every signature parameter name in `text` with `***`, however the URL
/// around it was written: a bare query string, `HTTP://`, URL-encoded (`%3D`, `%26`, even twice),
/// JSON-escaped (`http:\/\/`). What [`redact_signed_urls`] could not recognise as a URL still
/// loses its signature.
fn redact_signature_values(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        let hit = SIGNATURE_KEYS
            .iter()
            .find_map(|k| lower[i..].starts_with(k).then_some(k.len()));
        let Some(key_len) = hit else {
            let c = text[i..].chars().next().expect("in bounds");
            out.push(c);
            i += c.len_utf8();
            continue;
        };
        let after_key = i + key_len;
        let Some(eq) = ["=", "%3d", "%253d"]
            .iter()
            .find(|e| lower[after_key..].starts_with(**e))
        else {
            out.push_str(&text[i..after_key]);
            i = after_key;
            continue;
        };
        let value_start = after_key + eq.len();
        let mut j = value_start;
        while j < text.len() {
            let rest = &lower[j..];
            let c = rest.chars().next().expect("in bounds");
            if c.is_whitespace()
                || matches!(
                    c,
                    '&' | '"' | '\'' | '<' | '>' | '\\' | ',' | ';' | ')' | ']' | '}'
                )
                || rest.starts_with("%26")
                || rest.starts_with("%2526")
            {
                break;
            }
            j += c.len_utf8();
        }
        out.push_str(&text[i..value_start]);
        if j > value_start {
            out.push_str("***");
        }
        i = j;
    }
    out
}

/// Longest line of a message printed on stderr (a whole error with its provider's message).
pub const MAX_LINE: usize = 4096;

/// Longest raw response body quoted in an error message.
pub const MAX_QUOTED_BODY: usize = 1024;

/// `134217728` → `128 MiB`, for messages.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64;
    let mut unit = "B";
    for u in UNITS {
        if value < 1024.0 {
            break;
        }
        value /= 1024.0;
        unit = u;
    }
    if value.fract() == 0.0 {
        format!("{value:.0} {unit}")
    } else {
        format!("{value:.1} {unit}")
    }
}

/// Parse a size: `1048576`, `512K`, `64M`, `1G`, with an optional `iB`/`B` suffix (binary units).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    if t.starts_with('-') {
        return Err(format!("a size cannot be negative, got {t:?}"));
    }
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(digits);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("expected a size such as 64M or 1G, got {text:?}"))?;
    let shift = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "K" | "KB" | "KIB" => 10,
        "M" | "MB" | "MIB" => 20,
        "G" | "GB" | "GIB" => 30,
        _ => return Err(format!("unknown size unit {unit:?} (use K, M or G)")),
    };
    n.checked_mul(1u64 << shift)
        .filter(|v| *v > 0)
        .ok_or_else(|| format!("size {text:?} is zero or too large"))
}

/// A duration in seconds for people: milliseconds under a second (`350 ms`, never `0.0 s`),
/// else tenths (`81.2 s`).
pub fn seconds_words(s: f64) -> String {
    if s < 1.0 {
        format!("{:.0} ms", s * 1000.0)
    } else {
        format!("{s:.1} s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_for_people_never_read_zero() {
        assert_eq!(seconds_words(0.35), "350 ms");
        assert_eq!(seconds_words(0.0004), "0 ms");
        assert_eq!(seconds_words(1.0), "1.0 s");
        assert_eq!(seconds_words(81.24), "81.2 s");
    }

    #[test]
    fn flatten_keeps_a_value_on_one_line() {
        assert_eq!(
            flatten("db\n    - snap-FAKE\t\u{1b}]0;x\u{7}\u{202e}gpj.exe\r"),
            "db     - snap-FAKE ]0;xgpj.exe"
        );
    }

    #[test]
    fn only_our_colour_sequences_survive() {
        let ours = "\u{1b}[38;5;10mavailable\u{1b}[39m";
        assert_eq!(sanitize_keeping_colours(ours), ours);
        let theirs = "\u{1b}]0;title\u{7}\u{1b}[2Jx\u{1b}[38;5;1234m";
        assert_eq!(sanitize_keeping_colours(theirs), "]0;title[2Jx[38;5;1234m");
    }

    #[test]
    fn escape_sequences_and_carriage_returns_never_reach_the_terminal() {
        let hostile = "Invalid\u{1b}]0;pwned\u{7}\r signature\u{1b}[2J\u{9b}31m\u{202E}gnp.exe";
        let clean = one_line(hostile, 200);
        assert_eq!(clean, "Invalid]0;pwned signature[2J31mgnp.exe");
        assert!(!clean.chars().any(char::is_control));
        assert_eq!(sanitize("a\nb\tc\u{1b}"), "a\nb\tc");
        assert_eq!(sanitize("plain"), "plain");
    }

    #[test]
    fn long_text_is_clipped_with_a_note() {
        let long = "x".repeat(3000);
        let clipped = one_line(&long, MAX_QUOTED_BODY);
        assert!(clipped.starts_with(&"x".repeat(1024)));
        assert!(clipped.ends_with("… [1976 more bytes]"), "{clipped}");
        assert_eq!(one_line("a\nb", 10), "a b");
    }

    #[test]
    fn pre_signed_query_strings_are_redacted_and_plain_ones_kept() {
        let body = r#"{"FileLocation":"https://oos.eu-west-2.outscale.com/b/disk.qcow2?AWSAccessKeyId=AK&Expires=1&Signature=c2lnbmF0dXJl","next":"https://cinder.example/v3/p/volumes?marker=abc&limit=2"}"#;
        let red = redact_signed_urls(body);
        assert!(
            !red.contains("c2lnbmF0dXJl") && !red.contains("AWSAccessKeyId"),
            "{red}"
        );
        assert!(
            red.contains(r#""https://oos.eu-west-2.outscale.com/b/disk.qcow2?***""#),
            "{red}"
        );
        assert!(red.contains("marker=abc&limit=2"), "{red}");
        let v4 = "see http://h/o?X-Amz-Credential=AK%2F2026&X-Amz-Signature=ff end";
        assert_eq!(redact_signed_urls(v4), "see http://h/o?*** end");
        assert_eq!(redact_signed_urls("no urls here"), "no urls here");
    }

    #[test]
    fn a_signature_is_redacted_however_the_url_around_it_is_written() {
        let sig = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        let cred = "AKIAEXAMPLE%2F20261208%2Feu-west-2%2Fs3%2Faws4_request";
        let forms = [
            format!(
                "bare: X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={cred}&X-Amz-Signature={sig}"
            ),
            format!(
                "upper: HTTP://oos.example/b/k?X-AMZ-CREDENTIAL={cred}&X-AMZ-SIGNATURE={sig} done"
            ),
            format!(
                "encoded: https%3A%2F%2Foos.example%2Fb%2Fk%3FX-Amz-Credential%3D{cred}%26X-Amz-Signature%3D{sig}"
            ),
            format!(
                r#"json: {{"FileLocation":"https:\/\/oos.example\/b\/k?X-Amz-Credential={cred}&X-Amz-Signature={sig}"}}"#
            ),
            format!("twice: X-Amz-Signature%253D{sig}%2526x=1"),
            "v2: ?AWSAccessKeyId=AKIAEXAMPLE&Signature=c2lnbmF0dXJl%3D&Expires=1".to_string(),
        ];
        for form in &forms {
            let red = redact_signed_urls(form);
            for secret in [sig, "AKIAEXAMPLE", "c2lnbmF0dXJl"] {
                assert!(!red.contains(secret), "{form}\n-> {red}");
            }
            assert!(red.contains("***"), "{red}");
        }
        // Plain text that merely mentions a signature keeps its words.
        assert_eq!(
            redact_signed_urls("the Signature was refused"),
            "the Signature was refused"
        );
        assert_eq!(
            redact_signed_urls("naïve x-amz-signature"),
            "naïve x-amz-signature"
        );
    }

    #[test]
    fn sizes_format_and_parse() {
        assert_eq!(bytes(128 * 1024 * 1024), "128 MiB");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(12), "12 B");
        assert_eq!(parse_size("64M"), Ok(64 << 20));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert!(parse_size("0").is_err());
        assert!(parse_size("12X").is_err());
        assert!(parse_size("lots").is_err());
    }
}
