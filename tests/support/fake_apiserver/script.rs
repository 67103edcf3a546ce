//! The scripted containers: a container whose command ends in
//! `sh -c SCRIPT` runs the script's `echo`, `sleep`, `exit` and `fake-oom`
//! statements in real time; anything else in the script is ignored.

use std::time::{Duration, Instant};

use serde_json::Value;

/// One statement the fake understands.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Echo(String),
    Sleep(Duration),
    Exit(i32),
    OutOfMemory,
}

/// The script of a container, when its command (and args) end in
/// `sh -c SCRIPT`.
pub fn of_container(container: &Value) -> Option<Vec<Step>> {
    let words: Vec<&str> = ["command", "args"]
        .iter()
        .filter_map(|field| container.get(field).and_then(Value::as_array))
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let [.., shell, flag, script] = words.as_slice() else {
        return None;
    };
    let shell = shell.rsplit('/').next().unwrap_or(shell);
    (matches!(shell, "sh" | "bash") && *flag == "-c").then(|| parse(script))
}

/// Parses a script into the steps the fake acts on.
pub fn parse(script: &str) -> Vec<Step> {
    statements(script)
        .iter()
        .filter_map(|statement| {
            let words = words(statement);
            let (command, rest) = words.split_first()?;
            match command.as_str() {
                "echo" => Some(Step::Echo(rest.join(" "))),
                "sleep" => rest
                    .first()
                    .and_then(|s| s.parse::<f64>().ok())
                    .filter(|s| s.is_finite() && *s >= 0.0)
                    .map(|s| Step::Sleep(Duration::from_secs_f64(s))),
                "exit" => Some(Step::Exit(
                    rest.first().and_then(|c| c.parse().ok()).unwrap_or(0),
                )),
                "fake-oom" => Some(Step::OutOfMemory),
                _ => None,
            }
        })
        .collect()
}

/// Splits on `;`, `&&` and newlines outside quotes.
fn statements(script: &str) -> Vec<String> {
    let mut statements = Vec::new();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    let mut chars = script.chars().peekable();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => {
                quote = None;
                current.push(c);
            }
            (Some(_), c) => current.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                current.push(c);
            }
            (None, ';' | '\n') => statements.push(std::mem::take(&mut current)),
            (None, '&') if chars.peek() == Some(&'&') => {
                chars.next();
                statements.push(std::mem::take(&mut current));
            }
            (None, c) => current.push(c),
        }
    }
    statements.push(current);
    statements
        .into_iter()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Shell words: split on unquoted whitespace, one level of quotes removed.
fn words(statement: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    for c in statement.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => current.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut current));
                    in_word = false;
                }
            }
            (None, c) => {
                current.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(current);
    }
    words
}

/// How a run of a script ended.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Exit {
    Code(i32),
    OutOfMemory,
}

/// One run of a script: where it is and until when it sleeps.
#[derive(Debug, Clone)]
pub struct Run {
    steps: Vec<Step>,
    next: usize,
    asleep_until: Option<Instant>,
}

impl Run {
    pub fn new(steps: Vec<Step>) -> Run {
        Run {
            steps,
            next: 0,
            asleep_until: None,
        }
    }

    /// Runs what is due by `now`: log lines go to `log`; `Some` when the
    /// script ended.
    pub fn advance(&mut self, now: Instant, log: &mut Vec<String>) -> Option<Exit> {
        if let Some(until) = self.asleep_until {
            if now < until {
                return None;
            }
            self.asleep_until = None;
        }
        while let Some(step) = self.steps.get(self.next) {
            self.next += 1;
            match step {
                Step::Echo(text) => log.push(text.clone()),
                Step::Sleep(duration) => {
                    let until = now + *duration;
                    if until > now {
                        self.asleep_until = Some(until);
                        return None;
                    }
                }
                Step::Exit(code) => return Some(Exit::Code(*code)),
                Step::OutOfMemory => return Some(Exit::OutOfMemory),
            }
        }
        Some(Exit::Code(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scripts_parse_from_sh_dash_c() {
        let container = json!({"command": ["/bin/sh", "-c"], "args": ["echo 'hello  world'; sleep 0.5 && exit 3\nfake-oom; ls"]});
        assert_eq!(
            of_container(&container),
            Some(vec![
                Step::Echo("hello  world".into()),
                Step::Sleep(Duration::from_millis(500)),
                Step::Exit(3),
                Step::OutOfMemory,
            ])
        );
        assert_eq!(
            of_container(&json!({"command": ["python", "train.py"]})),
            None
        );
    }

    #[test]
    fn a_run_sleeps_in_real_time_then_exits() {
        let mut run = Run::new(parse("echo a; sleep 10; echo b"));
        let start = Instant::now();
        let mut log = Vec::new();
        assert_eq!(run.advance(start, &mut log), None);
        assert_eq!(log, ["a"]);
        assert_eq!(run.advance(start + Duration::from_secs(1), &mut log), None);
        assert_eq!(
            run.advance(start + Duration::from_secs(11), &mut log),
            Some(Exit::Code(0))
        );
        assert_eq!(log, ["a", "b"]);
    }
}
