//! Plausible names and prose, drawn from pools made once so that generating
//! hundreds of thousands of rows costs little more than copying them.

use fake::Fake;
use fake::faker::company::en::{Bs, CatchPhrase};
use fake::faker::lorem::en::{Sentence, Words};
use fake::faker::name::en::{FirstName, LastName};
use rand::RngExt;
use rand::rngs::StdRng;

/// Tags every seeded article draws from, most popular first.
pub const TAGS: &[&str] = &[
    "rust",
    "postgres",
    "scaling",
    "web",
    "databases",
    "caching",
    "redis",
    "performance",
    "devops",
    "security",
    "architecture",
    "testing",
    "linux",
    "networking",
    "nginx",
    "haproxy",
    "replication",
    "observability",
    "kubernetes",
    "docker",
    "api",
    "design",
    "career",
    "productivity",
    "javascript",
    "css",
    "html",
    "accessibility",
    "ux",
    "startups",
    "teams",
    "writing",
    "open-source",
    "cloud",
    "storage",
    "backups",
    "incidents",
    "sre",
    "latency",
    "queues",
    "search",
    "indexes",
    "sql",
    "migrations",
    "deploys",
    "ci",
    "tls",
    "auth",
    "privacy",
    "mobile",
    "ai",
    "data",
    "analytics",
    "math",
    "algorithms",
    "compilers",
    "concurrency",
    "async",
    "memory",
    "profiling",
];

/// A Markdown block and its rendered HTML.
struct Block {
    markdown: String,
    html: String,
}

impl Block {
    fn new(markdown: String) -> Self {
        let html = crate::content::markdown::render(&markdown);
        Self { markdown, html }
    }
}

/// Pools of generated text. Article bodies are made of blocks rendered once
/// here, so that millions of articles get their HTML without rendering each.
pub struct TextPools {
    first_names: Vec<String>,
    last_names: Vec<String>,
    phrases: Vec<String>,
    sentences: Vec<String>,
    paragraphs: Vec<Block>,
    headings: Vec<Block>,
    lists: Vec<Block>,
    code: Block,
}

/// An article body: Markdown, and the same rendered to sanitized HTML.
pub struct Body {
    pub markdown: String,
    pub html: String,
}

impl TextPools {
    /// Fills the pools from `rng`.
    pub fn new(rng: &mut StdRng) -> Self {
        let first_names = (0..600).map(|_| FirstName().fake_with_rng(rng)).collect();
        let last_names = (0..900).map(|_| LastName().fake_with_rng(rng)).collect();
        let phrases = (0..3000)
            .map(|_| CatchPhrase().fake_with_rng(rng))
            .collect();
        let sentences: Vec<String> = (0..4000)
            .map(|i| {
                if i % 3 == 0 {
                    let bs: String = Bs().fake_with_rng(rng);
                    format!("We set out to {bs}.")
                } else {
                    capitalize(&Sentence(6..16).fake_with_rng::<String, _>(rng))
                }
            })
            .collect();
        let pick_sentences = |rng: &mut StdRng, count: usize| -> Vec<String> {
            (0..count)
                .map(|_| sentences[rng.random_range(0..sentences.len())].clone())
                .collect()
        };
        let paragraphs = (0..1500)
            .map(|_| {
                let count = rng.random_range(3..7);
                Block::new(pick_sentences(rng, count).join(" "))
            })
            .collect();
        let headings = (0..500)
            .map(|_| {
                let words: Vec<String> = Words(2..5).fake_with_rng(rng);
                Block::new(format!("## {}", capitalize(&words.join(" "))))
            })
            .collect();
        let lists = (0..500)
            .map(|_| {
                let count = rng.random_range(2..5);
                let items: Vec<String> = pick_sentences(rng, count)
                    .iter()
                    .map(|sentence| format!("- {sentence}"))
                    .collect();
                Block::new(items.join("\n"))
            })
            .collect();
        let code = Block::new(
            "```sql\nSELECT * FROM articles ORDER BY created_at DESC LIMIT 20;\n```".to_string(),
        );
        Self {
            first_names,
            last_names,
            phrases,
            sentences,
            paragraphs,
            headings,
            lists,
            code,
        }
    }

    fn pick<'a>(rng: &mut StdRng, pool: &'a [String]) -> &'a str {
        &pool[rng.random_range(0..pool.len())]
    }

    /// A first and last name.
    pub fn name(&self, rng: &mut StdRng) -> (String, String) {
        (
            Self::pick(rng, &self.first_names).to_string(),
            Self::pick(rng, &self.last_names).to_string(),
        )
    }

    /// A short bio, or none.
    pub fn bio(&self, rng: &mut StdRng) -> String {
        if rng.random_bool(0.3) {
            return String::new();
        }
        let phrase = Self::pick(rng, &self.phrases).to_lowercase();
        let topic = TAGS[rng.random_range(0..TAGS.len())];
        format!("Working on {phrase}. Writes about {topic}.")
    }

    /// An article title.
    pub fn title(&self, rng: &mut StdRng) -> String {
        let phrase = Self::pick(rng, &self.phrases);
        let topic = TAGS[rng.random_range(0..TAGS.len())];
        match rng.random_range(0..5) {
            0 => format!("How we built a {} with {topic}", phrase.to_lowercase()),
            1 => format!(
                "{} lessons from a {}",
                rng.random_range(3..12),
                phrase.to_lowercase()
            ),
            2 => format!("Why {topic} needs a {}", phrase.to_lowercase()),
            3 => format!("{phrase}: a field guide"),
            _ => phrase.to_string(),
        }
    }

    /// A one-line description.
    pub fn description(&self, rng: &mut StdRng) -> String {
        Self::pick(rng, &self.sentences).to_string()
    }

    /// A Markdown body of a few paragraphs, sometimes with a heading, a list
    /// or code, with its HTML.
    pub fn body(&self, rng: &mut StdRng) -> Body {
        let pick = |rng: &mut StdRng, pool: &'_ [Block]| rng.random_range(0..pool.len());
        let mut blocks: Vec<&Block> = vec![&self.paragraphs[pick(rng, &self.paragraphs)]];
        if rng.random_bool(0.5) {
            blocks.push(&self.headings[pick(rng, &self.headings)]);
        }
        blocks.push(&self.paragraphs[pick(rng, &self.paragraphs)]);
        if rng.random_bool(0.4) {
            blocks.push(&self.lists[pick(rng, &self.lists)]);
        }
        if rng.random_bool(0.2) {
            blocks.push(&self.code);
        }
        blocks.push(&self.paragraphs[pick(rng, &self.paragraphs)]);
        // Blocks separated by a blank line render one after another.
        Body {
            markdown: blocks
                .iter()
                .map(|block| block.markdown.as_str())
                .collect::<Vec<_>>()
                .join("\n\n"),
            html: blocks.iter().map(|block| block.html.as_str()).collect(),
        }
    }

    /// A comment.
    pub fn comment(&self, rng: &mut StdRng) -> String {
        let count = rng.random_range(1..3);
        (0..count)
            .map(|_| Self::pick(rng, &self.sentences))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A username made of a name and a number that keeps it unique.
pub fn username(first: &str, last: &str, n: i64) -> String {
    let base = slug::slugify(format!("{first} {last}")).replace('-', "_");
    let base: String = base.chars().take(30).collect();
    format!("{base}{n}")
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn seeded_bodies_carry_exactly_the_html_their_markdown_renders_to() {
        let mut rng = StdRng::seed_from_u64(7);
        let pools = TextPools::new(&mut rng);
        for _ in 0..300 {
            let body = pools.body(&mut rng);
            assert_eq!(
                body.html,
                crate::content::markdown::render(&body.markdown),
                "{}",
                body.markdown
            );
        }
    }
}
