"""The image Lambda: lossless metadata removal by editing the container.

One module per container format (jpeg, png, webp, gif, heif), each with the same small interface,
picked by content through `images.registry`:

    NAME: str                                          short format name ("jpeg")
    sniff(head: bytes) -> bool                         does this content look like the format?
    inspect(data: bytes, options) -> list[Finding]     everything found, each marked removed or kept
    strip(data: bytes, options) -> bytes               the lossless edit; raises shared.errors types
    image_data(data: bytes, options) -> list           the parts that must survive byte-identical
                                                       (bytes, or model.Span: compared in place)

Modules are pure: bytes in, bytes out. I/O lives in the CLI (`python -m images`) and the handler.
"""
