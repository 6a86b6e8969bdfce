# SPDX-License-Identifier: ISC
"""A stand-in for the FastAPI backend that collab-auth replaces, for the
switch test (tests/switch/test_switch.py) only: never part of the product.

Its source is not available here; this reproduces what collab-auth
documents about it (README.md, collab-auth.env.example, sql/001), with
Debian 12's packages (FastAPI 0.92, pydantic 1.10, SQLModel 0.0.8,
passlib, python-jose, PyMySQL, uvicorn):

- settings: the .env keys of collab-auth.env.example, read by pydantic's
  BaseSettings (python-dotenv), file named by SEED_ENV_FILE;
- tables: `user` and `passwordresettoken` as SQLModel creates them on
  MariaDB (sql/001-initial.sql: VARCHAR(255), BOOL, DATETIME, unique
  indexes ix_user_email and ix_user_username, the foreign key with ON
  DELETE CASCADE);
- hashing: passlib's bcrypt ($2b$, cost 12), which reads the first 72
  bytes of a password and ignores the rest;
- tokens: python-jose HS256, access {"sub": str(id), "type": "access",
  "exp"} for ACCESS_TOKEN_EXPIRE_MINUTES, refresh {"sub", "type":
  "refresh", "exp"} for REFRESH_TOKEN_EXPIRE_DAYS; no iat, sid or jti;
- the five endpoints with collab-auth's documented messages, and FastAPI's
  own OAuth2 convention of WWW-Authenticate: Bearer on its 401 answers;
- CORSMiddleware for one front end, http://localhost:5173, with
  credentials, as a FastAPI application is usually set up;
- forgot-password stores the six-digit code in clear in
  passwordresettoken.otp, valid 15 minutes (mail is not sent: the switch
  test reads the code from the table);
- "cleanup" (python3 fastapi_seed.py cleanup) deletes used and expired
  codes, as the backend's periodic job did.

What is assumed where nothing is documented: the password rule (8
characters or more, no upper bound: bcrypt cuts), the username rule (3 to
50 characters), the code's lifetime, and that addresses are stored as
pydantic's EmailStr returns them (local part as typed, domain lower-cased).

python3 fastapi_seed.py serve PORT   runs it on 127.0.0.1:PORT
python3 fastapi_seed.py cleanup      deletes used and expired codes
"""

import os
import secrets
import sys
from datetime import datetime, timedelta
from typing import Optional

from fastapi import Depends, FastAPI, HTTPException
from fastapi.middleware.cors import CORSMiddleware
from jose import JWTError, jwt
from passlib.context import CryptContext
from pydantic import BaseModel, BaseSettings, EmailStr, Field as PField
from sqlmodel import Field, Session, SQLModel, create_engine, select

FRONT_END = "http://localhost:5173"


class Settings(BaseSettings):
    MYSQL_DB_URL: str
    JWT_SECRET_KEY: str
    ALGORITHM: str = "HS256"
    ACCESS_TOKEN_EXPIRE_MINUTES: int = 10080
    REFRESH_TOKEN_EXPIRE_DAYS: int = 21
    MAIL_USERNAME: str = ""
    MAIL_PASSWORD: str = ""
    MAIL_FROM: str = ""
    MAIL_PORT: int = 587
    MAIL_SERVER: str = ""

    class Config:
        env_file = os.environ.get("SEED_ENV_FILE", ".env")


settings = Settings()
engine = create_engine(settings.MYSQL_DB_URL, pool_pre_ping=True)
pwd = CryptContext(schemes=["bcrypt"], deprecated="auto")


class User(SQLModel, table=True):
    id: Optional[int] = Field(default=None, primary_key=True)
    email: str = Field(index=True, unique=True)
    username: str = Field(index=True, unique=True)
    hashed_password: str
    is_active: bool = True
    created_at: datetime = Field(default_factory=datetime.utcnow)


class PasswordResetToken(SQLModel, table=True):
    id: Optional[int] = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    otp: str
    expires_at: datetime
    is_used: bool = False


# SQLModel 0.0.8's Field has no ondelete: the schema sql/001 describes has
# ON DELETE CASCADE.
for _fk in PasswordResetToken.__table__.foreign_keys:
    _fk.ondelete = _fk.constraint.ondelete = "CASCADE"


class UserCreate(BaseModel):
    email: EmailStr
    username: str = PField(..., min_length=3, max_length=50)
    password: str = PField(..., min_length=8)


class UserRead(BaseModel):
    id: int
    email: str
    username: str
    is_active: bool
    created_at: datetime


class LoginRequest(BaseModel):
    email: EmailStr
    password: str


class RefreshRequest(BaseModel):
    refresh_token: str


class ForgotRequest(BaseModel):
    email: EmailStr


class ResetRequest(BaseModel):
    email: EmailStr
    otp: str
    new_password: str = PField(..., min_length=8)


def get_session():
    with Session(engine) as session:
        yield session


def unauthorized(detail):
    return HTTPException(status_code=401, detail=detail,
                         headers={"WWW-Authenticate": "Bearer"})


def token_pair(user_id):
    now = datetime.utcnow()
    access = jwt.encode(
        {"sub": str(user_id), "type": "access",
         "exp": now + timedelta(minutes=settings.ACCESS_TOKEN_EXPIRE_MINUTES)},
        settings.JWT_SECRET_KEY, algorithm=settings.ALGORITHM)
    refresh = jwt.encode(
        {"sub": str(user_id), "type": "refresh",
         "exp": now + timedelta(days=settings.REFRESH_TOKEN_EXPIRE_DAYS)},
        settings.JWT_SECRET_KEY, algorithm=settings.ALGORITHM)
    return {"access_token": access, "refresh_token": refresh,
            "token_type": "bearer"}


def user_by_email(session, email):
    return session.exec(select(User).where(User.email == email)).first()


app = FastAPI()
app.add_middleware(CORSMiddleware, allow_origins=[FRONT_END],
                   allow_credentials=True, allow_methods=["*"],
                   allow_headers=["*"])


@app.on_event("startup")
def create_tables():
    SQLModel.metadata.create_all(engine)


@app.post("/api/auth/register", response_model=UserRead, status_code=201)
def register(body: UserCreate, session: Session = Depends(get_session)):
    if user_by_email(session, body.email) is not None:
        raise HTTPException(status_code=409, detail="Email already registered")
    if session.exec(select(User).where(
            User.username == body.username)).first() is not None:
        raise HTTPException(status_code=409, detail="Username already taken")
    user = User(email=body.email, username=body.username,
                hashed_password=pwd.hash(body.password))
    session.add(user)
    session.commit()
    session.refresh(user)
    return user


@app.post("/api/auth/login")
def login(body: LoginRequest, session: Session = Depends(get_session)):
    user = user_by_email(session, body.email)
    if user is None or not pwd.verify(body.password, user.hashed_password):
        raise unauthorized("Invalid email or password")
    if not user.is_active:
        raise HTTPException(status_code=403, detail="Account is disabled")
    return token_pair(user.id)


@app.post("/api/auth/refresh-token")
def refresh_token(body: RefreshRequest,
                  session: Session = Depends(get_session)):
    try:
        claims = jwt.decode(body.refresh_token, settings.JWT_SECRET_KEY,
                            algorithms=[settings.ALGORITHM])
        user = session.get(User, int(claims["sub"]))
    except (JWTError, KeyError, TypeError, ValueError):
        raise unauthorized("Invalid refresh token")
    if claims.get("type") != "refresh" or user is None or not user.is_active:
        raise unauthorized("Invalid refresh token")
    return token_pair(user.id)


@app.post("/api/auth/forgot-password")
def forgot_password(body: ForgotRequest,
                    session: Session = Depends(get_session)):
    user = user_by_email(session, body.email)
    if user is not None and user.is_active:
        session.add(PasswordResetToken(
            user_id=user.id, otp="%06d" % secrets.randbelow(10 ** 6),
            expires_at=datetime.utcnow() + timedelta(minutes=15)))
        session.commit()
    return {"message": "If that email is registered, a reset code has "
            "been sent."}


@app.post("/api/auth/reset-password")
def reset_password(body: ResetRequest,
                   session: Session = Depends(get_session)):
    user = user_by_email(session, body.email)
    token = None
    if user is not None:
        token = session.exec(
            select(PasswordResetToken)
            .where(PasswordResetToken.user_id == user.id)
            .where(PasswordResetToken.otp == body.otp)
            .where(PasswordResetToken.is_used == False)  # noqa: E712
            .where(PasswordResetToken.expires_at > datetime.utcnow())
            .order_by(PasswordResetToken.id.desc())).first()
    if token is None:
        raise HTTPException(status_code=400, detail="Invalid or expired code")
    user.hashed_password = pwd.hash(body.new_password)
    token.is_used = True
    session.add(user)
    session.add(token)
    session.commit()
    return {"message": "Password has been reset"}


def cleanup():
    with Session(engine) as session:
        for t in session.exec(select(PasswordResetToken).where(
                (PasswordResetToken.is_used == True)  # noqa: E712
                | (PasswordResetToken.expires_at < datetime.utcnow()))):
            session.delete(t)
        session.commit()


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "serve":
        import uvicorn
        uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]),
                    log_level="warning")
    elif len(sys.argv) == 2 and sys.argv[1] == "cleanup":
        cleanup()
    else:
        sys.exit("usage: fastapi_seed.py serve PORT | cleanup")


if __name__ == "__main__":
    main()
