//! The grammar of pytest's `-m` expressions, to refuse a broken marker in xtask.toml (or after
//! `--`) before any process starts.

/// Checks a `-m` expression as pytest parses it: `or` of `and` of `not`, parentheses, and marker
/// names (with optional keyword arguments in parentheses); empty means "every test".
pub(crate) fn check_marker_expression(text: &str) -> Result<(), String> {
    let mut tokens: Vec<String> = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '(' || c == ')' {
            tokens.push(c.to_string());
            chars.next();
        } else {
            let mut word = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() || c == '(' || c == ')' {
                    break;
                }
                word.push(c);
                chars.next();
            }
            // A marker's keyword arguments: `mark(key=value)` directly after the name.
            if chars.peek() == Some(&'(') && !["and", "or", "not"].contains(&word.as_str()) {
                let mut depth = 0;
                for c in chars.by_ref() {
                    depth += i32::from(c == '(') - i32::from(c == ')');
                    if depth == 0 {
                        break;
                    }
                }
                if depth != 0 {
                    return Err("a `(` is never closed".to_owned());
                }
            }
            tokens.push(word);
        }
    }
    if tokens.is_empty() {
        return Ok(());
    }
    let mut at = 0;
    marker_or(&tokens, &mut at)?;
    match tokens.get(at) {
        None => Ok(()),
        Some(token) => Err(format!("unexpected `{token}`")),
    }
}

fn marker_or(tokens: &[String], at: &mut usize) -> Result<(), String> {
    marker_and(tokens, at)?;
    while tokens.get(*at).is_some_and(|t| t == "or") {
        *at += 1;
        marker_and(tokens, at)?;
    }
    Ok(())
}

fn marker_and(tokens: &[String], at: &mut usize) -> Result<(), String> {
    marker_not(tokens, at)?;
    while tokens.get(*at).is_some_and(|t| t == "and") {
        *at += 1;
        marker_not(tokens, at)?;
    }
    Ok(())
}

fn marker_not(tokens: &[String], at: &mut usize) -> Result<(), String> {
    match tokens.get(*at).map(String::as_str) {
        Some("not") => {
            *at += 1;
            marker_not(tokens, at)
        }
        Some("(") => {
            *at += 1;
            marker_or(tokens, at)?;
            if tokens.get(*at).map(String::as_str) != Some(")") {
                return Err("a `(` is never closed".to_owned());
            }
            *at += 1;
            Ok(())
        }
        Some(word @ ("and" | "or" | ")")) => Err(format!("`{word}` where a name was expected")),
        Some(word) if word.chars().all(|c| c.is_alphanumeric() || "_:+-.[]\\/".contains(c)) => {
            *at += 1;
            Ok(())
        }
        Some(word) => Err(format!("`{word}` is not a marker name")),
        None => Err("it ends where a name was expected".to_owned()),
    }
}
