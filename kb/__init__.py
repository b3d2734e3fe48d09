"""Knowledge base: articles, the French search engine, Markdown import and export."""
