# Production image: Python 3.11, the pinned requirements, npm front-end
# packages, static files collected and served by whitenoise.
FROM node:20-bookworm-slim AS assets
WORKDIR /app
COPY package.json package-lock.json ./
# Front-end packages only: axe-core and oidc-provider are dev dependencies
# of the browser and SSO tests.
RUN npm ci --omit=dev --no-audit --no-fund

FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DJANGO_SETTINGS_MODULE=portal.settings.production
WORKDIR /app
RUN useradd --create-home --uid 1000 portal
COPY requirements.txt ./
RUN pip install --no-cache-dir -r requirements.txt
COPY --from=assets /app/node_modules ./node_modules
COPY . .
RUN SECRET_KEY=collectstatic-only-not-a-secret-0000000000 ALLOWED_HOSTS=localhost \
    python manage.py collectstatic --noinput
USER portal
EXPOSE 8000
CMD ["gunicorn", "-c", "gunicorn.conf.py", "portal.wsgi"]
