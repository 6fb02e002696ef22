"""Browser tests: headless Chromium (Debian) via Playwright against real processes."""
