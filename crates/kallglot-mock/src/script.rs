//! The scripted bilingual conversation that stands in for speech recognition and
//! translation.
//!
//! The emulator cannot understand audio, so it plays a fixed customer-support dialogue,
//! paced by the **amount of audio received**: every `utterance_duration` of audio on the
//! session's conversation clock yields one utterance, with a `transcript.partial` (the
//! first half of its words) once half of that audio has arrived and a `transcript.final`
//! when all of it has. The conversation clock is the longest audio timeline of any
//! speaker, so two parties streaming at once advance it at real speed, and timing follows
//! the audio sent rather than wall time.
//!
//! Speakers alternate customer, agent, customer, … (whoever's audio it was). The customer
//! speaks the session's `source_language` and the agent its `target_language` (as in the
//! reference's legacy samples), `en` when unset; a final carries a translation into the
//! other party's language only when both languages are set. The script knows `en`, `es`,
//! `de` and `fr`; other languages get the English line tagged `[xx] `. After its eight
//! lines the script starts again.

use std::collections::HashMap;

/// μ-law at 8 kHz mono: one byte per sample, eight per millisecond.
pub(crate) const BYTES_PER_MS: u64 = 8;

/// The shortest utterance: a smaller configured duration is raised to it.
pub(crate) const MIN_UTTERANCE_MS: u64 = 20;

/// The dialogue: en, es, de, fr. Even lines are the customer's, odd lines the agent's.
const SCRIPT: [[&str; 4]; 8] = [
    [
        "Hello, I need help with my order.",
        "Hola, necesito ayuda con mi pedido.",
        "Hallo, ich brauche Hilfe mit meiner Bestellung.",
        "Bonjour, j'ai besoin d'aide avec ma commande.",
    ],
    [
        "Of course. What is the order number?",
        "Por supuesto. ¿Cuál es el número de pedido?",
        "Natürlich. Wie lautet die Bestellnummer?",
        "Bien sûr. Quel est le numéro de commande ?",
    ],
    [
        "It is 4217. It has not arrived yet.",
        "Es el 4217. Todavía no ha llegado.",
        "Sie lautet 4217. Sie ist noch nicht angekommen.",
        "C'est la 4217. Elle n'est pas encore arrivée.",
    ],
    [
        "I see it was delayed. I will send a replacement today.",
        "Veo que se retrasó. Le enviaré un reemplazo hoy.",
        "Ich sehe, dass sie sich verzögert hat. Ich schicke heute einen Ersatz.",
        "Je vois qu'elle a été retardée. J'envoie un remplacement aujourd'hui.",
    ],
    [
        "Thank you, that is very helpful.",
        "Gracias, eso me ayuda mucho.",
        "Danke, das hilft mir sehr.",
        "Merci, cela m'aide beaucoup.",
    ],
    [
        "You are welcome. Is there anything else?",
        "De nada. ¿Hay algo más?",
        "Gern geschehen. Gibt es noch etwas?",
        "Je vous en prie. Y a-t-il autre chose ?",
    ],
    [
        "No, that is all. Goodbye.",
        "No, eso es todo. Adiós.",
        "Nein, das ist alles. Auf Wiedersehen.",
        "Non, c'est tout. Au revoir.",
    ],
    [
        "Goodbye, and have a nice day.",
        "Adiós, que tenga un buen día.",
        "Auf Wiedersehen und einen schönen Tag noch.",
        "Au revoir, et bonne journée.",
    ],
];

/// The line in `language` (its primary subtag decides: `es-MX` speaks `es`).
fn line_in(index: usize, language: &str) -> String {
    let line = &SCRIPT[index % SCRIPT.len()];
    let primary = language
        .split(['-', '_'])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    match primary.as_str() {
        "en" => line[0].to_string(),
        "es" => line[1].to_string(),
        "de" => line[2].to_string(),
        "fr" => line[3].to_string(),
        _ => format!("[{language}] {}", line[0]),
    }
}

/// One utterance of the conversation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Utterance {
    /// 1-based position in the conversation (the transcript turn's `sequence`).
    pub sequence: u64,
    pub speaker: &'static str,
    pub language: String,
    pub text: String,
    /// `(language, text)`, when both session languages are set.
    pub translation: Option<(String, String)>,
    /// Where the utterance starts on the conversation clock.
    pub offset_ms: u64,
}

/// What received audio produced.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ScriptEvent {
    /// The first half of an utterance's words.
    Partial(Utterance),
    /// A whole utterance.
    Final(Utterance),
}

/// A session's conversation state.
#[derive(Debug, Clone)]
pub(crate) struct Conversation {
    utterance_ms: u64,
    source: Option<String>,
    target: Option<String>,
    bytes_by_speaker: HashMap<String, u64>,
    /// Index of the utterance in progress.
    next: u64,
    partial_sent: bool,
}

impl Conversation {
    pub fn new(utterance_ms: u64, source: Option<String>, target: Option<String>) -> Self {
        Self {
            // A floor keeps one large audio frame from producing thousands of messages.
            utterance_ms: utterance_ms.max(MIN_UTTERANCE_MS),
            source,
            target,
            bytes_by_speaker: HashMap::new(),
            next: 0,
            partial_sent: false,
        }
    }

    /// Milliseconds on the conversation clock: the longest speaker's audio.
    pub fn clock_ms(&self) -> u64 {
        self.bytes_by_speaker.values().copied().max().unwrap_or(0) / BYTES_PER_MS
    }

    /// Adds `bytes` of μ-law audio from `speaker` and returns the events it completes, in
    /// order.
    pub fn advance(&mut self, speaker: &str, bytes: usize) -> Vec<ScriptEvent> {
        *self
            .bytes_by_speaker
            .entry(speaker.to_string())
            .or_default() += bytes as u64;
        let clock = self.clock_ms();
        let mut events = Vec::new();
        loop {
            let start = self.next * self.utterance_ms;
            if !self.partial_sent && clock >= start + self.utterance_ms / 2 {
                let mut partial = self.utterance(self.next);
                let words: Vec<&str> = partial.text.split_whitespace().collect();
                partial.text = words[..words.len().div_ceil(2)].join(" ");
                partial.translation = None;
                events.push(ScriptEvent::Partial(partial));
                self.partial_sent = true;
            }
            if clock >= start + self.utterance_ms {
                events.push(ScriptEvent::Final(self.utterance(self.next)));
                self.next += 1;
                self.partial_sent = false;
            } else {
                return events;
            }
        }
    }

    fn utterance(&self, index: u64) -> Utterance {
        let source = self.source.as_deref().unwrap_or("en");
        let target = self.target.as_deref().unwrap_or("en");
        let customer = index.is_multiple_of(2);
        let (speaker, spoken, heard) = if customer {
            ("customer", source, target)
        } else {
            ("agent", target, source)
        };
        let line = index as usize;
        let translation = (self.source.is_some() && self.target.is_some())
            .then(|| (heard.to_string(), line_in(line, heard)));
        Utterance {
            sequence: index + 1,
            speaker,
            language: spoken.to_string(),
            text: line_in(line, spoken),
            translation,
            offset_ms: index * self.utterance_ms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(ms: u64) -> usize {
        (ms * BYTES_PER_MS) as usize
    }

    #[test]
    fn audio_paces_partials_then_finals_with_translations() {
        let mut c = Conversation::new(1000, Some("es".into()), Some("en".into()));
        assert!(c.advance("customer", ms(400)).is_empty());
        let events = c.advance("customer", ms(200));
        let [ScriptEvent::Partial(p)] = events.as_slice() else {
            panic!("{events:?}")
        };
        assert_eq!(
            (p.speaker, p.text.as_str()),
            ("customer", "Hola, necesito ayuda")
        );
        let events = c.advance("customer", ms(400));
        let [ScriptEvent::Final(f)] = events.as_slice() else {
            panic!("{events:?}")
        };
        assert_eq!(f.sequence, 1);
        assert_eq!(f.text, "Hola, necesito ayuda con mi pedido.");
        assert_eq!(
            f.translation,
            Some(("en".into(), "Hello, I need help with my order.".into()))
        );
        // One big chunk completes several utterances, in order, alternating speakers.
        let events = c.advance("customer", ms(2000));
        let kinds: Vec<_> = events
            .iter()
            .map(|e| match e {
                ScriptEvent::Partial(u) => format!("p{}{}", u.sequence, u.speaker),
                ScriptEvent::Final(u) => format!("f{}{}", u.sequence, u.speaker),
            })
            .collect();
        assert_eq!(kinds, ["p2agent", "f2agent", "p3customer", "f3customer"]);
        let ScriptEvent::Final(agent) = &events[1] else {
            panic!()
        };
        assert_eq!((agent.language.as_str(), agent.offset_ms), ("en", 1000));
    }

    #[test]
    fn parallel_speakers_share_one_clock_and_unset_languages_skip_translation() {
        let mut c = Conversation::new(1000, None, Some("de".into()));
        c.advance("customer", ms(800));
        c.advance("agent", ms(800));
        assert_eq!(c.clock_ms(), 800);
        let events = c.advance("agent", ms(200));
        let [ScriptEvent::Final(f)] = events.as_slice() else {
            panic!("{events:?}")
        };
        assert_eq!((f.language.as_str(), f.translation.clone()), ("en", None));
        assert_eq!(line_in(0, "ja"), "[ja] Hello, I need help with my order.");
        assert_eq!(line_in(8, "es-MX"), line_in(0, "es"));
    }
}
