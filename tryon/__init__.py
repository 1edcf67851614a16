"""tryon: the try-on application (data, preprocessing, pipeline, batch, video, CLI)."""
