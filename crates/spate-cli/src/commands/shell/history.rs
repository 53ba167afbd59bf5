//! Where the shell keeps its history between sessions: `$SPATE_HISTORY` when set (empty:
//! no history file), else `$XDG_STATE_HOME/spate/history`, else
//! `~/.local/state/spate/history`.

use std::path::PathBuf;

/// The variable naming the history file.
pub const ENV: &str = "SPATE_HISTORY";

/// The history file for the environment `var` reads, or `None` for no file.
pub fn path(var: impl Fn(&str) -> Option<String>) -> Option<PathBuf> {
    if let Some(path) = var(ENV) {
        return (!path.is_empty()).then(|| PathBuf::from(path));
    }
    let state = var("XDG_STATE_HOME")
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            var("HOME")
                .filter(|dir| !dir.is_empty())
                .map(|home| PathBuf::from(home).join(".local/state"))
        })?;
    Some(state.join("spate/history"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_string())
        }
    }

    #[test]
    fn spate_history_then_xdg_state_then_home() {
        let all = [
            ("SPATE_HISTORY", "/tmp/h"),
            ("XDG_STATE_HOME", "/s"),
            ("HOME", "/home/ada"),
        ];
        assert_eq!(path(env(&all)), Some(PathBuf::from("/tmp/h")));
        assert_eq!(
            path(env(&all[1..])),
            Some(PathBuf::from("/s/spate/history"))
        );
        assert_eq!(
            path(env(&all[2..])),
            Some(PathBuf::from("/home/ada/.local/state/spate/history"))
        );
        assert_eq!(path(env(&[("SPATE_HISTORY", ""), ("HOME", "/h")])), None);
        assert_eq!(path(env(&[])), None);
    }
}
