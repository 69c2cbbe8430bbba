//! The bot list: the patterns of the `isbot` crate (0.1.3, MIT: `bot_patterns.LICENSE`),
//! matched as `isbot` matches them (each a regular expression over the lowercased
//! User-Agent, any of them found anywhere) but without its one large regular expression.
//! That expression of 348 alternatives was built during Init and its lazy DFA grew with
//! every User-Agent seen: most of the redirect's memory above the crates floor. Here the
//! 271 patterns that are plain text are one Aho-Corasick automaton, the 51 that are `^`
//! and plain text are prefixes, and only the 26 others are one (small) regular
//! expression. The verdicts are `isbot`'s on a corpus of 8,499 real User-Agents
//! (`common/tests/user-agents`, this module's tests).

use aho_corasick::AhoCorasick;
use regex::Regex;

const PATTERNS: &str = include_str!("bot_patterns.txt");

/// Characters with a meaning in a regular expression outside a class (`regex` syntax).
const SYNTAX: &[char] = &[
    '\\', '.', '+', '*', '?', '(', ')', '|', '[', ']', '{', '}', '^', '$',
];

pub struct Bots {
    /// Plain-text patterns, found anywhere.
    anywhere: AhoCorasick,
    /// `^` then plain text: the User-Agent starts with it.
    prefixes: Vec<&'static str>,
    /// Every other pattern, one alternation (`None` when there is none).
    others: Option<Regex>,
}

impl Bots {
    pub fn new() -> Bots {
        Bots::from_patterns(PATTERNS)
    }

    /// One pattern a line, blank lines skipped, each lowercased as `isbot` does.
    fn from_patterns(text: &'static str) -> Bots {
        let mut anywhere = Vec::new();
        let mut prefixes = Vec::new();
        let mut others = Vec::new();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            debug_assert!(!line.bytes().any(|b| b.is_ascii_uppercase()));
            match line.strip_prefix('^') {
                _ if !line.contains(SYNTAX) => anywhere.push(line),
                Some(rest) if !rest.contains(SYNTAX) => prefixes.push(rest),
                _ => others.push(line),
            }
        }
        Bots {
            anywhere: AhoCorasick::new(&anywhere).expect("plain-text patterns"),
            prefixes,
            others: (!others.is_empty())
                .then(|| Regex::new(&others.join("|")).expect("the bot patterns compile")),
        }
    }

    pub fn is_bot(&self, user_agent: &str) -> bool {
        let ua = user_agent.to_ascii_lowercase();
        self.anywhere.is_match(&ua)
            || self.prefixes.iter().any(|p| ua.starts_with(p))
            || self.others.as_ref().is_some_and(|r| r.is_match(&ua))
    }
}

impl Default for Bots {
    fn default() -> Self {
        Bots::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn corpus(name: &str) -> Vec<&'static str> {
        let text = match name {
            "bots" => include_str!("../../tests/user-agents/bots.txt"),
            _ => include_str!("../../tests/user-agents/browsers-sample.txt"),
        };
        text.lines().filter(|l| !l.is_empty()).collect()
    }

    #[test]
    fn the_patterns_split_as_described() {
        let bots = Bots::new();
        assert_eq!(bots.anywhere.patterns_len(), 271);
        assert_eq!(bots.prefixes.len(), 51);
        let others = PATTERNS.lines().filter(|l| !l.trim().is_empty()).count() - 271 - 51;
        assert_eq!(others, 26);
        // Trailing spaces are part of a pattern, as in isbot.
        assert!(bots.prefixes.contains(&"lcc "));
    }

    #[test]
    fn verdicts_are_isbots_on_a_corpus_of_real_user_agents() {
        let ours = Bots::new();
        let theirs = isbot::Bots::default();
        let (mut bots, mut humans) = (0, 0);
        for ua in corpus("bots").into_iter().chain(corpus("browsers")) {
            let verdict = ours.is_bot(ua);
            assert_eq!(verdict, theirs.is_bot(ua), "{ua}");
            if verdict {
                bots += 1
            } else {
                humans += 1
            }
        }
        // Both kinds are in the corpus, so that the comparison means something.
        assert!(bots > 4000 && humans > 3500, "{bots} bots, {humans} humans");
    }

    #[test]
    fn each_kind_of_pattern_matches_where_isbot_does() {
        let ours = Bots::new();
        let theirs = isbot::Bots::default();
        for ua in [
            "Googlebot/2.1 (+http://www.google.com/bot.html)", // "googlebot", anywhere
            "curl/8.4.0",                                      // "^curl"
            "Mozilla/5.0 (compatible; Curl/8)",                // "curl" not at the start
            "WhatsApp/2.23.20 A",                              // "^whatsapp\+?/[0-9\.]+ [a-z]$"
            "WhatsApp/2.23.20 Ab",
            "Viber",
            "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
            "LCC (+http://corpora.informatik.uni-leipzig.de/crawler_faq.html)",
            "lcc",
            "",
            "Ünïcödé bot",
        ] {
            assert_eq!(ours.is_bot(ua), theirs.is_bot(ua), "{ua}");
        }
    }
}
