"""A Markdown manual with nested headings, for the document tests and the upload bench."""

from __future__ import annotations

MANUAL = """\
# Skyline Router Manual

The Skyline router connects a small office to the internet. This manual covers setup,
everyday use and recovery.

## Installation

Unpack the router and place it near the fibre socket, away from microwave ovens.

### Requirements

You need a fibre connection, a power outlet, and a computer with a web browser.
The router draws at most 12 watts.

### Steps

1. Connect the grey WAN cable to the fibre terminal.
2. Plug in the power adapter and wait until the light turns solid blue.
3. Open http://192.168.8.1 in a browser and log in with the password printed under the router.

## Configuration

### Wireless network

Choose a network name and a passphrase of at least twelve characters. The 5 GHz band
is faster; the 2.4 GHz band reaches further through walls.

### Parental controls

Parental controls block categories of websites per device and can pause the internet
for a device at bedtime.

## Troubleshooting

If the light blinks red, the fibre line is down: call your provider. If the light is
orange, the router is updating its firmware; do not unplug it.

To restore factory settings, hold the recessed reset button for fifteen seconds with a
paperclip until the light flashes white.

## Warranty

The warranty lasts two years from the date of purchase and covers hardware faults, not
damage from lightning or water.
"""


def long_manual(target_chars: int) -> str:
    """A Markdown manual of about `target_chars` characters: chapters of sections of
    varied prose (for the upload benchmark)."""
    topics = [
        "power supply",
        "antenna placement",
        "firmware updates",
        "guest network",
        "port forwarding",
        "quality of service",
        "logs",
        "backups",
    ]
    parts = ["# Large Appliance Manual\n\nThis manual describes every part of the appliance.\n"]
    chapter = 0
    while sum(len(p) for p in parts) < target_chars:
        chapter += 1
        parts.append(f"\n## Chapter {chapter}: {topics[chapter % len(topics)].title()}\n")
        for section in range(4):
            topic = topics[(chapter + section) % len(topics)]
            parts.append(f"\n### {chapter}.{section + 1} About {topic}\n\n")
            for sentence in range(14):
                parts.append(
                    f"Step {sentence + 1} of the {topic} procedure in chapter {chapter} sets "
                    f"value {chapter * 31 + sentence * 7} and checks the indicator labelled "
                    f"{topic[:3].upper()}-{sentence}. "
                )
            parts.append("\n")
    return "".join(parts)[:target_chars]
