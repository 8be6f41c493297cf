"""Read nested JSON-like dicts by dotted path; used by the study paperwork (clinical file, summary)."""


def get_path(data, dotted):
    """Value at a dotted path ("patient.id"), or None when any part is absent."""
    node = data
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node
