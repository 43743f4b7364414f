//! The interactive loop: line editing and history (rustyline), statements
//! spanning lines until `;`, Ctrl-C cancelling the input or running query.

use std::io::{IsTerminal, Read};
use std::path::PathBuf;

use rustyline::DefaultEditor;
use rustyline::error::ReadlineError;

use clvsql::script::{one_line, split};

use crate::exec::Session;

fn history_path() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("CLVSQL_HISTORY") {
        return Some(PathBuf::from(path));
    }
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".clvsql_history"))
}

/// Runs the REPL on a terminal, or the statements piped to standard input.
/// Returns false when piped input failed.
pub async fn run(session: &mut Session) -> bool {
    if !std::io::stdin().is_terminal() {
        let mut text = String::new();
        if let Err(e) = std::io::stdin().read_to_string(&mut text) {
            eprintln!("Error: cannot read standard input: {e}");
            return false;
        }
        return match session.run_text(&text).await {
            Ok(()) => true,
            Err(e) => {
                eprintln!("Error: {}", one_line(&e.to_string()));
                false
            }
        };
    }
    let mut editor = match DefaultEditor::new() {
        Ok(editor) => editor,
        Err(e) => {
            eprintln!("Error: cannot start the line editor: {e}");
            return false;
        }
    };
    let history = history_path();
    if let Some(path) = &history {
        // A missing history file is normal on first use.
        let _ = editor.load_history(path);
    }
    println!(
        "clvsql {} on DataFusion. \\? for help, \\q to quit.",
        env!("CARGO_PKG_VERSION")
    );
    let mut buffer = String::new();
    loop {
        let prompt = if buffer.is_empty() {
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
                        eprintln!("Warning: history not updated: {e}");
                    }
                }
                buffer = rest;
                for item in items {
                    if let Err(e) = session.run_item(&item).await {
                        eprintln!("Error: {}", one_line(&e.to_string()));
                    }
                    if session.quit {
                        break;
                    }
                }
                if session.quit {
                    break;
                }
            }
            Err(ReadlineError::Interrupted) => buffer.clear(),
            Err(ReadlineError::Eof) => break,
            Err(e) => {
                eprintln!("Error: {e}");
                break;
            }
        }
    }
    if let Some(path) = &history
        && let Err(e) = editor.save_history(path)
    {
        eprintln!("Warning: cannot save history to {}: {e}", path.display());
    }
    true
}
