//! What the source-reading guard tests share (tests only).

/// Every production `.rs` file under `src/`: its path relative to `src/` (with `/`) and its text.
/// A file its parent declares under `#[cfg(test)]` (`engine/tests.rs`, this one) is a test and
/// left out; test items inside a production file are the reader's to skip.
pub(crate) fn source_files() -> Vec<(String, String)> {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).expect("src") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    walk(&src, &mut files);
    files
        .into_iter()
        .map(|f| {
            let rel = f
                .strip_prefix(&src)
                .expect("under src")
                .to_string_lossy()
                .replace('\\', "/");
            let text = std::fs::read_to_string(&f).expect("read");
            (rel, text)
        })
        .collect::<Vec<_>>()
        .into_iter()
        .filter(|(rel, _)| !test_only(&src, rel))
        .collect()
}

/// Whether the parent module of `rel` declares it `#[cfg(test)] mod NAME;`.
fn test_only(src: &std::path::Path, rel: &str) -> bool {
    let Some(name) = rel.rsplit('/').next().and_then(|f| f.strip_suffix(".rs")) else {
        return false;
    };
    if name == "mod" || name == "lib" || name == "main" {
        return false;
    }
    let dir = rel.rsplit_once('/').map_or("", |(d, _)| d);
    let parents = if dir.is_empty() {
        vec!["lib.rs".to_string()]
    } else {
        vec![format!("{dir}/mod.rs"), format!("{dir}.rs")]
    };
    parents.iter().any(|p| {
        let Ok(text) = std::fs::read_to_string(src.join(p)) else {
            return false;
        };
        let lines: Vec<&str> = text.lines().map(str::trim).collect();
        lines.windows(2).any(|w| {
            w[0] == "#[cfg(test)]"
                && w[1].ends_with(&format!("mod {name};"))
                && w[1].split_whitespace().nth_back(1) == Some("mod")
        })
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn test_modules_in_their_own_files_are_left_out() {
        let files: Vec<String> = super::source_files().into_iter().map(|(r, _)| r).collect();
        assert!(files.iter().any(|r| r == "engine/mod.rs"));
        assert!(files.iter().any(|r| r == "engine/unit.rs"));
        assert!(!files.iter().any(|r| r == "engine/tests.rs"));
        assert!(!files.iter().any(|r| r == "test_support.rs"));
    }
}
