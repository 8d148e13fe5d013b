-- Sign-in and step-up attempts, reserved before a secret is checked: a row is written as
-- `pending` (counting as a failure) inside the transaction that counts the limit, then settled
-- `failed` or `succeeded`, so concurrent guesses can never all be checked.
-- `kind`: `sign_in` or `step_up` (re-checking a signed-in person's password or code).
-- `email`: the account the attempt is for; `ip`: the client's address block (an IPv6 /64 is
-- one); `device`: the id in a valid device cookie for that account (a client that signed in
-- to it before), which the per-account limit for unknown clients does not cover.
CREATE TABLE auth_attempts (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    email TEXT NOT NULL,
    ip TEXT NOT NULL,
    device TEXT,
    at BIGINT NOT NULL,
    outcome TEXT NOT NULL
);
CREATE INDEX auth_attempts_email ON auth_attempts(email, at);
CREATE INDEX auth_attempts_ip ON auth_attempts(ip, at);
CREATE INDEX auth_attempts_device ON auth_attempts(device, at);

-- Requests with an unknown or expired credential, counted per address block and minute; a
-- closed minute becomes one `auth.denied_burst` audit event with its count, and its row goes.
CREATE TABLE denied_bursts (
    ip TEXT NOT NULL,
    minute BIGINT NOT NULL,
    count BIGINT NOT NULL,
    PRIMARY KEY (ip, minute)
);
