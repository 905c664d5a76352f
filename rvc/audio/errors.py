"""The one exception type of rvc.audio, so callers catch audio problems without knowing about PyAV."""


class AudioError(ValueError):
    """A file cannot be read or written as audio; the message names the file and the problem.

    A ValueError because the cause is the input (a missing, broken or silent file, an unknown format), which the
    service layer reports to the user as a bad request rather than as a server fault.
    """
