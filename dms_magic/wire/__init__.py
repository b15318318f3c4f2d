"""What the client and the sandbox share: the parameter table and ChatRequest, message shapes, reply readers
(ChatResult, stream chunks), signing and the tokeniser."""
