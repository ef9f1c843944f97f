//! Generated data for demos and benchmarks.

/// How much to generate.
pub struct Plan {
    pub users: u64,
    pub articles: u64,
}

impl Plan {
    /// A plan for `users` users and `articles` articles.
    pub fn new(users: u64, articles: u64) -> Self {
        Self { users, articles }
    }

    /// The small data set `make run` starts with.
    pub fn demo() -> Self {
        Self::new(60, 240)
    }
}

/// Seeds the database at `conninfo` according to `plan`.
pub async fn run(_conninfo: &str, _plan: &Plan, _if_empty: bool) -> anyhow::Result<()> {
    Ok(())
}
