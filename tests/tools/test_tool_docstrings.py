"""Descriptions taken from Google, Sphinx and NumPy docstrings."""

from __future__ import annotations

from troupe.tools._docstring import parse_docstring


def test_google_style() -> None:
    doc = parse_docstring(
        """Send an email.

        The message goes out at once;
        there is no undo.

        Args:
            to (str): Recipient address.
            subject: The subject line, which
                may wrap onto a second line.
            *cc: Copies.

        Returns:
            The message id.

        Raises:
            ValueError: if the address is bad.
        """
    )
    assert doc.description == "Send an email.\n\nThe message goes out at once;\nthere is no undo."
    assert doc.params == {
        "to": "Recipient address.",
        "subject": "The subject line, which may wrap onto a second line.",
        "cc": "Copies.",
    }


def test_sphinx_style() -> None:
    doc = parse_docstring(
        """Send an email.

        :param to: Recipient address.
        :param str subject: The subject line,
            wrapped.
        :returns: The message id.
        """
    )
    assert doc.description == "Send an email."
    assert doc.params == {"to": "Recipient address.", "subject": "The subject line, wrapped."}


def test_numpy_style() -> None:
    doc = parse_docstring(
        """Send an email.

        Parameters
        ----------
        to : str
            Recipient address.
        subject, title : str
            The subject line.

        Returns
        -------
        str
            The message id.
        """
    )
    assert doc.description == "Send an email."
    assert doc.params == {
        "to": "Recipient address.",
        "subject": "The subject line.",
        "title": "The subject line.",
    }


def test_no_docstring() -> None:
    assert parse_docstring(None).description == ""
    assert parse_docstring("   ").params == {}


def test_summary_only() -> None:
    doc = parse_docstring("Just a summary.")
    assert (doc.description, doc.params) == ("Just a summary.", {})
