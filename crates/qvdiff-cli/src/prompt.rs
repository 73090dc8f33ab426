//! Questions to the person at the keyboard. With `--no-input` nothing is asked: a question with a
//! safe answer takes it, one without is an error for the caller to report. Answers are read from
//! standard input, so a script may pipe them in.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io::{BufRead, Write};

/// Asks questions, or refuses to when input is off.
#[derive(Debug)]
pub struct Prompter {
    enabled: bool,
    /// Answers given so far, by question: a project with two histories (SQLite and PostgreSQL)
    /// plans the same change twice and must not ask twice.
    answers: RefCell<HashMap<String, Option<String>>>,
}

impl Prompter {
    /// A prompter; `enabled = false` for `--no-input`.
    pub fn new(enabled: bool) -> Prompter {
        Prompter {
            enabled,
            answers: RefCell::new(HashMap::new()),
        }
    }

    /// Whether questions may be asked.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// A yes/no question whose safe answer is "no". Returns `false` without asking when input is
    /// off or standard input is closed.
    pub fn confirm(&self, question: &str) -> bool {
        matches!(
            self.ask(&format!("{question} [y/N] ")).as_deref(),
            Some("y" | "Y" | "yes" | "Yes" | "YES")
        )
    }

    /// Asks for a free-form answer. `None` when input is off, closed, or the answer is empty.
    pub fn ask(&self, question: &str) -> Option<String> {
        if !self.enabled {
            return None;
        }
        if let Some(answer) = self.answers.borrow().get(question) {
            return answer.clone();
        }
        let answer = self.read_answer(question);
        self.answers
            .borrow_mut()
            .insert(question.to_string(), answer.clone());
        answer
    }

    /// Asks for a free-form answer that `check` must accept: a refused answer's message is
    /// shown and the question asked again, until an answer passes or none comes (`None`, as
    /// [`Prompter::ask`]). The accepted answer is the one remembered.
    pub fn ask_checked(
        &self,
        question: &str,
        check: impl Fn(&str) -> Result<(), String>,
    ) -> Option<String> {
        loop {
            let answer = self.ask(question)?;
            match check(&answer) {
                Ok(()) => return Some(answer),
                Err(message) => {
                    eprintln!("error: {message}");
                    self.answers.borrow_mut().remove(question);
                }
            }
        }
    }

    fn read_answer(&self, question: &str) -> Option<String> {
        let mut stderr = std::io::stderr().lock();
        let _ = write!(stderr, "{question}");
        let _ = stderr.flush();
        let mut line = String::new();
        match std::io::stdin().lock().read_line(&mut line) {
            Ok(0) | Err(_) => None,
            Ok(_) => Some(line.trim().to_string()).filter(|s| !s.is_empty()),
        }
    }
}
