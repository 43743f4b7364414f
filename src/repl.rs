//! The interactive loop: line editing, history and Tab completion
//! (rustyline), statements spanning lines until `;`, backslash commands
//! on any line, Ctrl-C cancelling the input or running query.

use std::io::{IsTerminal, Read};
use std::path::PathBuf;

use rustyline::Editor;
use rustyline::error::ReadlineError;
use rustyline::history::FileHistory;

use clvsql::script::split;

use crate::complete::{Names, ReplHelper};
use crate::exec::{Session, error_text};

fn history_path() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("CLVSQL_HISTORY") {
        return Some(PathBuf::from(path));
    }
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".clvsql_history"))
}

/// Keeps what is typed while a query runs when Ctrl-C cancels it: the
/// terminal discards its unread input on an interrupt unless NOFLSH is
/// set. Restores the terminal's modes when dropped.
struct KeepTypeAhead {
    saved: Option<rustix::termios::Termios>,
}

impl KeepTypeAhead {
    fn new() -> Self {
        let stdin = std::io::stdin();
        let saved = rustix::termios::tcgetattr(&stdin).ok();
        if let Some(saved) = &saved {
            let mut modes = saved.clone();
            modes.local_modes |= rustix::termios::LocalModes::NOFLSH;
            let _ =
                rustix::termios::tcsetattr(&stdin, rustix::termios::OptionalActions::Now, &modes);
        }
        Self { saved }
    }
}

impl Drop for KeepTypeAhead {
    fn drop(&mut self) {
        if let Some(saved) = &self.saved {
            let _ = rustix::termios::tcsetattr(
                std::io::stdin(),
                rustix::termios::OptionalActions::Now,
                saved,
            );
        }
    }
}

/// Runs the REPL on a terminal, or the statements piped to standard input.
/// Returns false when piped input failed.
pub async fn run(session: &mut Session) -> bool {
    if !std::io::stdin().is_terminal() {
        let mut text = String::new();
        if let Err(e) = std::io::stdin().read_to_string(&mut text) {
            report!("Error: cannot read standard input: {e}");
            return false;
        }
        let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
        return match session.run_script(text, "<stdin>").await {
            Ok(()) => true,
            Err(e) => {
                report!("Error: {}", error_text(&e));
                false
            }
        };
    }
    let mut editor: Editor<ReplHelper, FileHistory> = match Editor::new() {
        Ok(editor) => editor,
        Err(e) => {
            report!("Error: cannot start the line editor: {e}");
            return false;
        }
    };
    editor.set_helper(Some(ReplHelper::default()));
    let history = history_path();
    if let Some(path) = &history {
        // A missing history file is normal on first use.
        let _ = editor.load_history(path);
    }
    let _type_ahead = KeepTypeAhead::new();
    println!(
        "clvsql {} on DataFusion. \\? for help, \\q to quit.",
        env!("CARGO_PKG_VERSION")
    );
    let mut buffer = String::new();
    let mut names_stale = true;
    while !session.quit {
        if names_stale {
            let names = Names::of(&session.ctx).await;
            if let Some(helper) = editor.helper_mut() {
                helper.names = names;
            }
            names_stale = false;
        }
        let prompt = if buffer.trim().is_empty() {
            "clvsql> "
        } else {
            "     -> "
        };
        match editor.readline(prompt) {
            Ok(line) => {
                buffer.push_str(&line);
                buffer.push('\n');
                let (items, rest) = split(&buffer);
                if !items.is_empty() {
                    let entry = buffer.trim_end().trim_end_matches(rest.trim());
                    let entry = clvsql::storage::redact_secrets(entry.trim());
                    if let Err(e) = editor.add_history_entry(entry) {
                        report!("Warning: history not updated: {e}");
                    }
                    names_stale = true;
                }
                buffer = rest;
                for item in items {
                    if let Err(e) = session.run_item(&item).await {
                        report!("Error: {}", error_text(&e));
                    }
                    if session.quit {
                        break;
                    }
                }
            }
            Err(ReadlineError::Interrupted) => buffer.clear(),
            Err(ReadlineError::Eof) => break,
            Err(e) => {
                report!("Error: {e}");
                break;
            }
        }
    }
    if let Some(path) = &history
        && let Err(e) = editor.save_history(path)
    {
        report!("Warning: cannot save history to {}: {e}", path.display());
    }
    true
}
