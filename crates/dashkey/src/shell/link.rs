//! The per-directory profile switch, as shell text appended to dashkey's own `env.sh` and
//! `env.fish`: interactive bash, zsh and fish shells that load those files define a small
//! function that, when `$PWD` changed, finds the nearest link file (`dashkey link`) at or
//! above it and loads the linked profile's file, or dashkey's own file outside any linked
//! tree. (bash and zsh walk up; fish walks down from `/` over one `string split`, because a
//! command substitution per level costs fish more than a `test` per level.) It uses only builtins (`[ -f ]`, `read`, `case`, `string`) so that a `cd`
//! starts no process, and runs from the shells' own hooks (`PROMPT_COMMAND`, `chpwd`,
//! `--on-variable PWD`). Other shells ignore it: dash, ksh and mksh parse it and skip it.
//!
//! The text is a marked trailer that depends only on dashkey's directory and the variables
//! the file sets, so that the file's parser can check it is exactly what dashkey writes
//! ([`split`]).

use super::Dialect;
use crate::vars;

/// The file `dashkey link NAME` writes in a directory: one line, the profile's name.
pub const LINK_FILE: &str = ".dashkey-profile";

const BEGIN: &str = "# >>> dashkey link: per-directory profiles (`dashkey link NAME`) >>>";
const END: &str = "# <<< dashkey link <<<";

/// The variables every profile may set, which a switch always clears, so that a profile
/// without a region never inherits another's base URLs.
const CLEARED: [&str; 5] = [
    vars::API_KEY,
    vars::HTTP_BASE_URL,
    vars::WEBSOCKET_BASE_URL,
    vars::COMPATIBLE_BASE_URL,
    vars::API_BASE,
];

/// The switch for `dialect` (bash and zsh through POSIX `env.sh`, fish through `env.fish`),
/// `None` for the shells that have no hook for it. `dir` is dashkey's directory as a shell
/// expression (`"$HOME/.config/dashkey"`), `set` the names the file assigns, `written` every
/// name dashkey writes anywhere.
///
/// A switch clears every name in `written` before loading a profile's file (one builtin, no
/// read of the file it leaves), so that a `--client` name or a workspace of one profile never
/// survives into one that does not set it. A name dashkey never wrote is kept: the values the
/// shell had, when the file was first loaded, for names it does not set are saved then and
/// put back after a switch whose profile does not set them.
pub fn switch(dialect: Dialect, dir: &str, set: &[&str], written: &[&str]) -> Option<String> {
    let mut names: Vec<&str> = CLEARED.to_vec();
    names.extend(set.iter().chain(written).filter(|n| !CLEARED.contains(n)));
    let mut seen = Vec::new();
    names.retain(|n| {
        if seen.contains(n) {
            false
        } else {
            seen.push(*n);
            true
        }
    });
    let own: Vec<&str> =
        written.iter().copied().filter(|n| !CLEARED.contains(n) && !set.contains(n)).collect();
    let (save, restore) = keep_own(dialect, &own);
    // The Coding Plan key the files in use export beside their own: a switch keeps it beside
    // a standard profile, as `dashkey run` hands it over (a Coding Plan profile exports its own).
    let beside = if set.contains(&vars::CODING_PLAN_API_KEY) {
        format!("\"${}\"", vars::CODING_PLAN_API_KEY)
    } else {
        String::new()
    };
    let names = names.join(" ");
    let file = dialect.owned_file_name();
    let coding = vars::CODING_PLAN_API_KEY;
    let body = match dialect {
        Dialect::Posix => format!(
            r#"__dashkey_dir={dir}
__dashkey_beside={beside}
if [ -z "${{__dashkey_hooked-}}" ] && [ -n "${{BASH_VERSION-}}${{ZSH_VERSION-}}" ]; then
  case $- in *i*)
    __dashkey_hooked=1
    __dashkey_cur="$__dashkey_dir/{file}"
    if [ -n "${{__dashkey_linked-}}" ]; then
      __dashkey_cur=
    else
{save}    fi
    __dashkey_link() {{
      __dashkey_s=$?
      if [ "${{__dashkey_pwd-}}" != "$PWD" ]; then
        __dashkey_pwd=$PWD
        __dashkey_d=$PWD
        __dashkey_p=
        while :; do
          if [ -f "$__dashkey_d/{LINK_FILE}" ]; then
            IFS= read -r __dashkey_p < "$__dashkey_d/{LINK_FILE}" || :
            break
          fi
          case $__dashkey_d in */*) __dashkey_d=${{__dashkey_d%/*}} ;; *) break ;; esac
        done
        __dashkey_f="$__dashkey_dir/{file}"
        case $__dashkey_p in
          ''|*[!a-z0-9_-]*) ;;
          *) if [ -f "$__dashkey_dir/profiles/$__dashkey_p/{file}" ]; then
               __dashkey_f="$__dashkey_dir/profiles/$__dashkey_p/{file}"
             fi ;;
        esac
        if [ "$__dashkey_f" != "$__dashkey_cur" ]; then
          unset {names}
          if [ -f "$__dashkey_f" ]; then . "$__dashkey_f"; fi
          case ${{DASHSCOPE_API_KEY-}} in
            sk-sp-*) {coding}=$DASHSCOPE_API_KEY; export {coding} ;;
            *) if [ -n "$__dashkey_beside" ] && [ -z "${{{coding}+x}}" ]; then
                 {coding}=$__dashkey_beside; export {coding}
               fi ;;
          esac
{restore}          __dashkey_cur=$__dashkey_f
          if [ "$__dashkey_f" = "$__dashkey_dir/{file}" ]; then
            unset __dashkey_linked
          else
            __dashkey_linked=1; export __dashkey_linked
          fi
        fi
        unset __dashkey_d __dashkey_p __dashkey_f
      fi
      return $__dashkey_s
    }}
    if [ -n "${{ZSH_VERSION-}}" ]; then
      eval 'chpwd_functions=(${{chpwd_functions[@]:#__dashkey_link}} __dashkey_link)'
    else
      PROMPT_COMMAND="__dashkey_link${{PROMPT_COMMAND:+;$PROMPT_COMMAND}}"
    fi
    __dashkey_link ;;
  esac
fi
"#
        ),
        Dialect::Fish => format!(
            r#"set -g __dashkey_dir {dir}
set -g __dashkey_beside {beside}
if status is-interactive; and not set -q __dashkey_hooked
    set -g __dashkey_hooked 1
    set -g __dashkey_cur "$__dashkey_dir/{file}"
    if set -q __dashkey_linked
        set -g __dashkey_cur
    else
{save}    end
    function __dashkey_link --on-variable PWD
        set -l d ''
        set -l found
        test -f /{LINK_FILE}; and set found /{LINK_FILE}
        for part in (string split -n / -- $PWD)
            set d "$d/$part"
            test -f "$d/{LINK_FILE}"; and set found "$d/{LINK_FILE}"
        end
        set -l p
        test -n "$found"; and read p < $found
        set -l f "$__dashkey_dir/{file}"
        if string match -qr '^[a-z0-9_-]+$' -- "$p"; and test -f "$__dashkey_dir/profiles/$p/{file}"
            set f "$__dashkey_dir/profiles/$p/{file}"
        end
        if test "$f" != "$__dashkey_cur"
            set -e {names}
            test -f "$f"; and source "$f"
            if string match -q 'sk-sp-*' -- "$DASHSCOPE_API_KEY"
                set -gx {coding} $DASHSCOPE_API_KEY
            else if test -n "$__dashkey_beside"; and not set -q {coding}
                set -gx {coding} $__dashkey_beside
            end
{restore}            set -g __dashkey_cur "$f"
            if test "$f" = "$__dashkey_dir/{file}"
                set -e __dashkey_linked
            else
                set -gx __dashkey_linked 1
            end
        end
    end
    __dashkey_link
end
"#
        ),
        Dialect::Csh | Dialect::Nu | Dialect::PowerShell | Dialect::Cmd => return None,
    };
    Some(format!("{BEGIN}\n{body}{END}\n"))
}

/// The shell text that saves, once, the values the shell has for `own` (names dashkey writes
/// that this file does not set: the user's own), and the text that puts them back after a
/// switch cleared them, when the profile loaded does not set them. The saved values are
/// exported, and a switched shell exports `__dashkey_linked`, so that a shell started from
/// inside a linked tree knows the values it inherits are a profile's and keeps its parent's
/// saved ones instead of counting the profile's as the user's own.
fn keep_own(dialect: Dialect, own: &[&str]) -> (String, String) {
    let mut save = String::new();
    let mut restore = String::new();
    for n in own {
        match dialect {
            Dialect::Posix => {
                save.push_str(&format!(
                    "      unset __dashkey_own_{n}\n      if [ -n \"${{{n}+x}}\" ]; then \
                     __dashkey_own_{n}=${n}; export __dashkey_own_{n}; fi\n"
                ));
                restore.push_str(&format!(
                    "          if [ -n \"${{__dashkey_own_{n}+x}}\" ] && [ -z \"${{{n}+x}}\" ]; then \
                     {n}=$__dashkey_own_{n}; export {n}; fi\n"
                ));
            }
            _ => {
                save.push_str(&format!(
                    "        set -e __dashkey_own_{n}\n        set -q {n}; and set -gx __dashkey_own_{n} ${n}\n"
                ));
                restore.push_str(&format!(
                    "            set -q __dashkey_own_{n}; and not set -q {n}; and set -gx {n} $__dashkey_own_{n}\n"
                ));
            }
        }
    }
    (save, restore)
}

/// Whether an owned file's text carries the switch (a file an older dashkey wrote does not:
/// shells loading it do not switch until the next `set` or `use`).
pub fn is_in(text: &str) -> bool {
    text.contains(&format!("\n{BEGIN}\n"))
}

/// The part of an owned file before the switch, when the file has none or exactly the one
/// dashkey writes for the names the part assigns; `None` when the trailer is anything else.
pub fn split<'t>(dialect: Dialect, text: &'t str, written: &[&str]) -> Option<&'t str> {
    let Some(at) = text.find(&format!("\n{BEGIN}\n")) else { return Some(text) };
    let (head, trailer) = text.split_at(at + 1);
    let dir = trailer.lines().nth(1)?;
    let dir = match dialect {
        Dialect::Posix => dir.strip_prefix("__dashkey_dir=")?,
        Dialect::Fish => dir.strip_prefix("set -g __dashkey_dir ")?,
        _ => return None,
    };
    let set: Vec<&str> = head.lines().filter_map(|line| assigned(dialect, line)).collect();
    (switch(dialect, dir, &set, written)? == trailer).then_some(head)
}

/// The variable one line of an owned file assigns.
fn assigned(dialect: Dialect, line: &str) -> Option<&str> {
    let rest = match dialect {
        Dialect::Posix => line.strip_prefix("export ")?.split_once('=')?.0,
        Dialect::Fish => line.strip_prefix("set -gx ")?.split_once(' ')?.0,
        _ => return None,
    };
    Some(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    const WRITTEN: [&str; 3] = [vars::API_KEY, vars::OPENAI_API_KEY, vars::WORKSPACE_ID];

    #[test]
    fn the_trailer_is_recognised_only_as_written() {
        for dialect in [Dialect::Posix, Dialect::Fish] {
            let head = match dialect {
                Dialect::Posix => {
                    "# Written by dashkey\nexport DASHSCOPE_API_KEY='k'\nexport OPENAI_API_KEY='k'\n"
                }
                _ => {
                    "# Written by dashkey\nset -gx DASHSCOPE_API_KEY 'k'\nset -gx OPENAI_API_KEY 'k'\n"
                }
            };
            let set = [vars::API_KEY, vars::OPENAI_API_KEY];
            let trailer = switch(dialect, "\"$HOME/.config/dashkey\"", &set, &WRITTEN).unwrap();
            assert!(trailer.contains("OPENAI_API_KEY") && trailer.contains(LINK_FILE));
            let text = format!("{head}{trailer}");
            assert_eq!(split(dialect, &text, &WRITTEN), Some(head));
            assert_eq!(split(dialect, head, &WRITTEN), Some(head));
            let edited = text.replacen("__dashkey_cur", "__dashkey_cux", 1);
            assert_eq!(split(dialect, &edited, &WRITTEN), None, "{dialect}");
            let other_names =
                format!("{}{trailer}", head.lines().take(2).collect::<Vec<_>>().join("\n") + "\n");
            assert_eq!(split(dialect, &other_names, &WRITTEN), None, "{dialect}: names must match");
        }
        assert!(switch(Dialect::Csh, "x", &[], &WRITTEN).is_none());
    }
}
